export { startOdooSandbox, parseUsers, type OdooSandbox, type OdooSandboxOptions } from './server';
export type { OdooFaultKind, OdooFaultRule, OdooFaultRuleInput } from './faults';
export type { OdooJournalEntry, OdooJournalFilter } from './journal';
export { REGISTRY as odooModels } from './models';
