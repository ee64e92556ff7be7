/**
 * IBAN checks, pure, with `ibantools` (docs/decisions/0004-ibantools.md): ISO 13616 check digits, the country's
 * length and BBAN format, and the national check digits ibantools knows — Spain's CCC control digits among them,
 * which a mod-97 check alone lets through.
 */
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';

/** True for a valid IBAN, written with or without spaces, in any case ("ES91 2100 0418 4502 0005 1332"). */
export function isValidIban(iban: string): boolean {
  const s = electronicFormatIBAN(iban);
  return s !== null && isValidIBAN(s.toUpperCase());
}

/** For messages: country, check digits and the last four characters only ("ES79…6789"). */
export function maskIban(iban: string): string {
  const s = iban.replace(/\s+/g, '');
  return s.length <= 8 ? '…' : `${s.slice(0, 4)}…${s.slice(-4)}`;
}
