import type { ApplyOneShotChargeInstanceRequestDto } from './dto';

/**
 * What identifies a one-shot charge among a subscription's instances, for the executor's check after a try whose
 * outcome was lost (and the ledger's `charge_code`): its charge code; a one-shot sent with its own amount (the
 * compensation, docs/behaviour.md W5) also by that amount and its description, so that another charge of the same
 * code (an earlier compensation, applied by the original module and unknown to this ledger) is not taken for it.
 */
export function oneShotIdentity(body: ApplyOneShotChargeInstanceRequestDto): string {
  if (body.amountWithoutTax === undefined) return body.oneShotCharge;
  return `${body.oneShotCharge}|${amount4(body.amountWithoutTax)}|${body.description ?? ''}`;
}

/** True when an instance OpenCell lists is one of the charges `body` applies (oneShotIdentity). */
export function isInstanceOf(
  body: ApplyOneShotChargeInstanceRequestDto,
  instance: { code: string; amountWithoutTax?: number | null; description?: string | null },
): boolean {
  if (instance.code !== body.oneShotCharge) return false;
  if (body.amountWithoutTax === undefined) return true;
  return (
    instance.amountWithoutTax !== undefined &&
    instance.amountWithoutTax !== null &&
    amount4(instance.amountWithoutTax) === amount4(body.amountWithoutTax) &&
    (body.description === undefined || instance.description === body.description)
  );
}

function amount4(n: number | string): string {
  return (Math.round(Number(n) * 10_000) / 10_000).toFixed(4);
}
