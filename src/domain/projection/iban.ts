/** IBAN checks (ISO 13616), pure. */

/** The remainder of a decimal string modulo 97 (IBAN check digits). */
export function mod97(numeric: string): number {
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  return rem;
}

/** ISO 13616 IBAN check: country, check digits, 10–30 alphanumerics; rearranged, letters → numbers, mod 97 === 1. */
export function isValidIban(iban: string): boolean {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  const numeric = rearranged.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return mod97(numeric) === 1;
}

/** For messages: country, check digits and the last four characters only ("ES79…6789"). */
export function maskIban(iban: string): string {
  const s = iban.replace(/\s+/g, '');
  return s.length <= 8 ? '…' : `${s.slice(0, 4)}…${s.slice(-4)}`;
}
