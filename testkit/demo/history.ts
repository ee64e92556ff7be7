/**
 * The demo's history after the seed (`npm run demo`, step 2): an address moved, a phone number changed, a tariff
 * change (a new tariff line, the old line ended) and a contract terminated — real SQL on Odoo's tables, as the
 * demo writes it. The go-live snapshot scenario (test/faults/golive-snapshot.test.ts) replays the same history.
 */
import type { PoolClient } from 'pg';
import { insertContractLine, terminateContract } from '../demo-seed';

export interface DemoChanges {
  /** partner whose address moved */
  movedPartner: number | null;
  /** mobile contract whose number and tariff changed */
  mobileContract: number | null;
  /** contract terminated */
  terminatedContract: number | null;
}

/** Writes the demo's changes to the partners seeded with `seed` (seedDemo). */
export async function demoChanges(db: PoolClient, seed: number): Promise<DemoChanges> {
  const contracts = (
    await db.query<{ id: number; partner_id: number; code: string; info: number | null; line: number }>(
      `SELECT c.id, c.partner_id, c.code, c.mobile_contract_service_info_id AS info,
              (SELECT min(l.id) FROM contract_line l WHERE l.contract_id = c.id) AS line
         FROM contract_contract c JOIN ir_model_data x ON x.model = 'res.partner' AND x.res_id = c.partner_id
        WHERE x.name LIKE $1 ORDER BY c.id`,
      [`s${seed}_partner_%`],
    )
  ).rows;
  const mobile = contracts.find((c) => c.info !== null);
  if (contracts[0])
    await db.query(
      `UPDATE res_partner SET street = 'Carrer de Sants 79', zip = '08014', city = 'Barcelona' WHERE id = $1`,
      [contracts[0].partner_id],
    );
  if (mobile)
    await db.query(`UPDATE mobile_service_contract_info SET phone_number = '699000111' WHERE id = $1`, [
      mobile.info,
    ]);
  if (mobile?.line) {
    await db.query('BEGIN');
    await insertContractLine(db, mobile.id, { productCode: 'SE_SC_REC_MOBILE_T_150_1024' });
    await db.query(`UPDATE contract_line SET date_end = CURRENT_DATE WHERE id = $1`, [mobile.line]);
    await db.query('COMMIT');
  }
  const last = contracts[contracts.length - 1];
  const terminated = last && last !== mobile ? last : undefined;
  if (terminated) await terminateContract(db, terminated.id, {});
  return {
    movedPartner: contracts[0]?.partner_id ?? null,
    mobileContract: mobile?.id ?? null,
    terminatedContract: terminated?.id ?? null,
  };
}
