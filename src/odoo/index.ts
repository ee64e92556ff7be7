export * from './client';
export * from './errors';
export * as codecs from './codecs';
export { Records, cmd, m2oId, charOrNull } from './codecs';
export type {
  Domain,
  DomainLeaf,
  Many2one,
  OdooChar,
  RecordSpec,
  PartnerRecord,
  ProductRecord,
  TaxRecord,
  AccountRecord,
  JournalRecord,
  ContractGroupRecord,
  ContractRecord,
  MoveRecord,
  MoveLineRecord,
  VersionInfo,
} from './codecs';
