/**
 * Mixed Odoo changes for the fault tests, with the OpenCell state each one must end in, and the checks against the
 * sandbox: final state, duplicate creates, one-shot charges per line.
 */
import type { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertPartner,
  terminateContract,
  type ContractKind,
} from '../../../testkit/demo-seed';
import type { JournalEntry } from '../../../testkit/sandbox/opencell';
import type { Sandbox } from '../../integration/support/pipeline';
import { uniqueSuffix } from '../../integration/support/stack';

export interface ExpectedLine {
  id: number;
  productCode: string;
  oneShot: boolean;
  ended: boolean;
}

export interface ExpectedContract {
  id: number;
  code: string;
  partnerId: number;
  partnerRef: string;
  infoTable: string;
  infoId: number;
  lines: ExpectedLine[];
  phone: string;
  oldPhones: string[];
  street?: string;
  terminated: boolean;
  /** excluded from the final-state check (a poison input meant to be dead-lettered) */
  poison?: string;
}

const MOBILE = ['SE_SC_REC_MOBILE_T_UNL_20480', 'SE_SC_REC_MOBILE_PACK_UNL_1024', 'CH_SC_OSO_SIM'];
const FIBER = ['SE_SC_REC_BA_F_600', 'SE_SC_REC_BA_LANDLINE_UNL'];
const today = () => new Date().toISOString().slice(0, 10);
const newPhone = () => `6${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

export class Workload {
  readonly contracts: ExpectedContract[] = [];
  /** Odoo transactions written */
  changes = 0;

  constructor(private readonly db: PoolClient) {}

  async createContract(
    kind: ContractKind = 'mobile',
    extra: { partnerOverrides?: Record<string, unknown>; iban?: string; poison?: string } = {},
  ): Promise<ExpectedContract> {
    const db = this.db;
    await db.query('BEGIN');
    let c: ExpectedContract;
    try {
      const partner = await insertPartner(db, {
        email: `fault${uniqueSuffix()}@example.org`,
        overrides: extra.partnerOverrides,
      });
      const mandate = await insertBankAccountAndMandate(
        db,
        partner.id,
        extra.iban ? { iban: extra.iban } : {},
      );
      const products = kind === 'mobile' ? MOBILE : FIBER;
      const contract = await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind,
        lines: products,
        ownTransaction: false,
      });
      await db.query('COMMIT');
      c = {
        id: contract.id,
        code: contract.code,
        partnerId: partner.id,
        partnerRef: partner.ref!,
        infoTable: contract.infoTable,
        infoId: contract.infoId,
        lines: contract.lineIds.map((id, i) => ({
          id,
          productCode: products[i],
          oneShot: products[i].startsWith('CH_'),
          ended: false,
        })),
        phone: contract.phoneNumber,
        oldPhones: [],
        terminated: false,
        poison: extra.poison,
      };
    } catch (e) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    this.changes++;
    this.contracts.push(c);
    return c;
  }

  /**
   * `contracts` mobile contracts for `partners` new partners in ONE Odoo transaction (issue 19 §1's reproduction):
   * the first `partners` contracts one per partner, the rest a second contract of the first partners — every other
   * one with a mandate of its own (a second customer account), the others sharing the first contract's (the same
   * account).
   */
  async createContractsInOneTransaction(partners: number, contracts: number): Promise<ExpectedContract[]> {
    const db = this.db;
    const out: ExpectedContract[] = [];
    await db.query('BEGIN');
    try {
      const made: { id: number; ref: string; mandateId: number }[] = [];
      for (let i = 0; i < partners; i++) {
        const partner = await insertPartner(db, { email: `planfault${uniqueSuffix()}@example.org` });
        const mandate = await insertBankAccountAndMandate(db, partner.id);
        made.push({ id: partner.id, ref: partner.ref!, mandateId: mandate.mandateId });
      }
      for (let i = 0; i < contracts; i++) {
        const p = made[i % partners];
        const second = i >= partners;
        const mandateId =
          second && i % 2 === 1 ? (await insertBankAccountAndMandate(db, p.id)).mandateId : p.mandateId;
        const contract = await insertContract(db, {
          partnerId: p.id,
          mandateId,
          kind: 'mobile',
          lines: MOBILE,
          ownTransaction: false,
        });
        out.push({
          id: contract.id,
          code: contract.code,
          partnerId: p.id,
          partnerRef: p.ref,
          infoTable: contract.infoTable,
          infoId: contract.infoId,
          lines: contract.lineIds.map((id, j) => ({
            id,
            productCode: MOBILE[j],
            oneShot: MOBILE[j].startsWith('CH_'),
            ended: false,
          })),
          phone: contract.phoneNumber,
          oldPhones: [],
          terminated: false,
        });
      }
      await db.query('COMMIT');
    } catch (e) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    this.changes++;
    this.contracts.push(...out);
    return out;
  }

  /** Ends the contract's last recurring non-tariff line (pack or landline). */
  async terminateLine(c: ExpectedContract): Promise<void> {
    const line = [...c.lines].reverse().find((l) => !l.oneShot && !l.ended);
    if (!line || c.terminated) return;
    await this.db.query(`UPDATE contract_line SET date_end = $2, write_date = now() WHERE id = $1`, [
      line.id,
      today(),
    ]);
    line.ended = true;
    this.changes++;
  }

  async changeAddress(c: ExpectedContract): Promise<void> {
    const street = `Carrer de la Prova ${Math.floor(Math.random() * 900) + 10}`;
    await this.db.query(
      `UPDATE res_partner SET street = $2, full_street = $2, zip = '08002', city = 'Barcelona', write_date = now() WHERE id = $1`,
      [c.partnerId, street],
    );
    c.street = street;
    this.changes++;
  }

  async changePhone(c: ExpectedContract): Promise<void> {
    if (c.terminated) return;
    const phone = newPhone();
    // like Odoo: the ISP info's number and the contract's stored compute phone_number in one transaction
    await this.db.query('BEGIN');
    try {
      await this.db.query(`UPDATE ${c.infoTable} SET phone_number = $2, write_date = now() WHERE id = $1`, [
        c.infoId,
        phone,
      ]);
      await this.db.query(
        `UPDATE contract_contract SET phone_number = $2, write_date = now() WHERE id = $1`,
        [c.id, phone],
      );
      await this.db.query('COMMIT');
    } catch (e) {
      await this.db.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    c.oldPhones.push(c.phone);
    c.phone = phone;
    this.changes++;
  }

  async terminate(c: ExpectedContract): Promise<void> {
    if (c.terminated) return;
    await terminateContract(this.db, c.id, { date: today() });
    for (const l of c.lines) l.ended = true;
    c.terminated = true;
    this.changes++;
  }

  /** One of the mutations, chosen by index (so a run covers all of them). */
  async mutate(c: ExpectedContract, i: number): Promise<string> {
    const kinds = ['line', 'address', 'phone', 'terminate'] as const;
    const k = kinds[i % kinds.length];
    if (k === 'line') await this.terminateLine(c);
    else if (k === 'address') await this.changeAddress(c);
    else if (k === 'phone') await this.changePhone(c);
    else await this.terminate(c);
    return k;
  }
}

/** Differences between the sandbox state and what the contracts must look like in OpenCell. */
export function stateProblems(sandbox: Sandbox, contracts: readonly ExpectedContract[]): string[] {
  const st = sandbox.state;
  const out: string[] = [];
  for (const c of contracts) {
    if (c.poison) continue;
    const sub = st.subscriptions.get(c.code);
    if (!sub) {
      out.push(`${c.code}: no subscription`);
      continue;
    }
    if (!st.customers.get(c.partnerRef)) out.push(`${c.code}: no customer ${c.partnerRef}`);
    // a termination dated today is effective at 23:59:59 (OpenCell 10+): recorded as subscribedTillDate until then
    if (c.terminated && sub.status !== 'RESILIATED' && sub.subscribedTillDate === undefined)
      out.push(`${c.code}: subscription ${sub.status} without a termination, expected RESILIATED`);
    if (!c.terminated && (sub.status !== 'ACTIVE' || sub.subscribedTillDate !== undefined))
      out.push(`${c.code}: subscription ${sub.status}, expected ACTIVE`);
    for (const l of c.lines) {
      if (l.oneShot) {
        const n = sub.oneShots.filter((o) => o.code === l.productCode).length;
        if (n === 0) out.push(`${c.code}: one-shot ${l.productCode} of line ${l.id} not applied`);
        continue;
      }
      const inst = sub.services.filter((s) => s.code === l.productCode);
      if (inst.length === 0) out.push(`${c.code}: service ${l.productCode} missing`);
      else if (l.ended && inst.some((s) => s.status !== 'TERMINATED' && s.terminationDate === undefined))
        out.push(`${c.code}: service ${l.productCode} not terminated (${inst.map((s) => s.status)})`);
      else if (!l.ended && !inst.some((s) => s.status === 'ACTIVE'))
        out.push(`${c.code}: service ${l.productCode} not active (${inst.map((s) => s.status)})`);
    }
    if (!c.terminated) {
      const accesses = (st.accessesBySubscription.get(c.code) ?? []).map((a) => a.code);
      if (!accesses.includes(c.phone))
        out.push(`${c.code}: access ${c.phone} missing (has ${accesses.join(',')})`);
      for (const old of c.oldPhones)
        if (accesses.includes(old)) out.push(`${c.code}: old access ${old} still there`);
    }
    if (c.street) {
      const customer = st.customers.get(c.partnerRef);
      if (!JSON.stringify(customer ?? {}).includes(c.street))
        out.push(`${c.code}: customer ${c.partnerRef} address is not "${c.street}"`);
      for (const ca of st.customerAccountsOf(c.partnerRef))
        if (!JSON.stringify(ca).includes(c.street))
          out.push(`${c.code}: customer account ${ca.code} address is not "${c.street}"`);
    }
  }
  return out;
}

const CREATE_PATHS: Record<string, string> = {
  'POST /account/customer': 'createCustomer',
  'POST /account/accountHierarchy/createCRMAccountHierarchy': 'crmAccountHierarchyCreate',
  'POST /billing/subscription': 'createSubscription',
  'POST /account/access': 'createAccess',
};

export interface CreateAudit {
  /** successful creates per kind */
  creates: Record<string, number>;
  /** codes created successfully more than once */
  duplicates: string[];
  /** 4xx ENTITY_ALREADY_EXISTS / DUPLICATE_ACCESS answers (a replayed create that found the object) */
  alreadyExists: number;
}

/** At most one successful create per code, from the sandbox journal (only codes in `scope`, when given). */
export function auditCreates(
  journal: readonly JournalEntry[],
  scope?: (code: string) => boolean,
): CreateAudit {
  const creates: Record<string, number> = {};
  const seen = new Map<string, number>();
  let alreadyExists = 0;
  for (const e of journal) {
    const kind = CREATE_PATHS[`${e.method} ${e.path}`];
    if (!kind) continue;
    const b = (e.body ?? {}) as Record<string, unknown>;
    const code = kind === 'createAccess' ? `${String(b.subscription)}/${String(b.code)}` : String(b.code);
    if (scope && !scope(kind === 'createAccess' ? String(b.subscription) : code)) continue;
    // a 200 carrying an error code is OpenCell's 200 + FAIL answer: nothing was created
    if (e.status >= 200 && e.status < 300 && !e.errorCode) {
      creates[kind] = (creates[kind] ?? 0) + 1;
      seen.set(`${kind}:${code}`, (seen.get(`${kind}:${code}`) ?? 0) + 1);
    } else if (e.errorCode === 'ENTITY_ALREADY_EXISTS_EXCEPTION' || e.errorCode === 'DUPLICATE_ACCESS')
      alreadyExists++;
  }
  return {
    creates,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`),
    alreadyExists,
  };
}

/** Services activated more than once: a live line's product with more than one instance on its subscription. */
export function serviceDuplicates(sandbox: Sandbox, contracts: readonly ExpectedContract[]): string[] {
  const out: string[] = [];
  for (const c of contracts) {
    if (c.poison) continue;
    const sub = sandbox.state.subscriptions.get(c.code);
    for (const l of c.lines.filter((x) => !x.oneShot)) {
      const n = sub?.services.filter((s) => s.code === l.productCode).length ?? 0;
      if (n > 1) out.push(`${c.code} line ${l.id} ${l.productCode} ×${n}`);
    }
  }
  return out;
}

/** One-shot charges applied per one-shot line (expected: exactly 1 each). */
export function oneShotCounts(
  sandbox: Sandbox,
  contracts: readonly ExpectedContract[],
): { lines: number; applied: number; duplicates: string[] } {
  let lines = 0;
  let applied = 0;
  const duplicates: string[] = [];
  for (const c of contracts) {
    if (c.poison) continue;
    const sub = sandbox.state.subscriptions.get(c.code);
    for (const l of c.lines.filter((x) => x.oneShot)) {
      lines++;
      const n = sub?.oneShots.filter((o) => o.code === l.productCode).length ?? 0;
      applied += n;
      if (n > 1) duplicates.push(`${c.code} line ${l.id} ${l.productCode} ×${n}`);
    }
  }
  return { lines, applied, duplicates };
}
