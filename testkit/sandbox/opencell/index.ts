export {
  startOpenCellSandbox,
  type HeldRequest,
  type OpenCellSandbox,
  type OpenCellSandboxOptions,
} from './server';
export { defaultCatalog, loadCatalog, type SandboxCatalog } from './sandbox-catalog';
export type * from './sandbox-catalog';
export type { FaultKind, FaultRule, FaultRuleInput } from './faults';
export type { JournalEntry, JournalFilter } from './journal';
export type { BillingRunOptions, BillingRunResult, SyntheticInvoiceOptions } from './invoices';
export { invoicePdf } from './invoices';
export type { VersionProfile } from './errors';
