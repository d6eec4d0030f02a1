/**
 * Go's `fmt.Sprintf("%v", x)` for the JSON values Dex's oauth connector turns into a user id. Go's
 * JSON decoder reads every number as a float64, and `%v` prints a float64 as `%g` with the shortest
 * digits that round-trip, switching to an exponent from 1e21 down to 1e+06: so the numeric id
 * 12345678 is "1.2345678e+07" in Dex, and in every `sub` Dex issued for it.
 */

/** `%v` of a float64 (strconv.FormatFloat(f, 'g', -1, 64)). */
export function goFormatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  // toExponential() without digits gives the shortest round-trip digits, as Go's shortest formatting.
  const [mantissa = '', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  // Go: %e when the exponent is below -4 or at least the precision, which is 6 for shortest formatting.
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  // Here JavaScript's own notation is plain decimal with the same digits.
  return String(value);
}
