export * from './client';
export * from '../../domain/odoo/errors';
export * as codecs from '../../domain/odoo/codecs';
export { Records, cmd, m2oId, charOrNull } from '../../domain/odoo/codecs';
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
} from '../../domain/odoo/codecs';
