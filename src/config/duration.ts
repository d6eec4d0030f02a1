/**
 * Go's `time.ParseDuration`, because Dex writes every lifetime in config.yaml that way ("24h", "1h30m",
 * "500ms"). Durations become milliseconds, the unit of `Date` arithmetic and timers in Node.
 */

/** Nanoseconds per unit, exactly Go's `unitMap` (both micro signs included). */
const NANOS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek small letter mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// Go's Duration is an int64 of nanoseconds (2^63 - 1); anything longer does not parse there either.
const MAX_NANOS = 2 ** 63 - 1;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parses a Go duration (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, e.g. "24h", "1h30m", "1.5h", "500ms") into
 * milliseconds. Throws a SyntaxError for garbage or a missing unit ("10"), RangeError for negatives.
 * As in Go, a bare "0" is allowed and means zero.
 */
export function parseDuration(text: string): number {
  let s = text;
  if (s.startsWith('+') || s.startsWith('-')) {
    if (s.startsWith('-') && s !== '-0') throw new RangeError(`negative duration "${text}"`);
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new SyntaxError(`invalid duration "${text}"`);
  let nanos = 0;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw new SyntaxError(`invalid duration "${text}"`);
    let i = 0;
    while (isDigit(s[i])) i++;
    const whole = s.slice(0, i);
    let fraction = '';
    if (s[i] === '.') {
      const start = ++i;
      while (isDigit(s[i])) i++;
      fraction = s.slice(start, i);
    }
    if (whole === '' && fraction === '') throw new SyntaxError(`invalid duration "${text}"`); // ".s"
    // The unit is everything up to the next number, as in Go ("1 h" has the unknown unit " h").
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unit = s.slice(unitStart, i);
    if (unit === '') throw new SyntaxError(`missing unit in duration "${text}"`);
    const perUnit = NANOS_PER_UNIT[unit];
    if (perUnit === undefined) throw new SyntaxError(`unknown unit "${unit}" in duration "${text}"`);
    // Whole and fractional parts are scaled separately, like Go, so "0.1s" is exactly 100ms.
    nanos +=
      Number(whole || '0') * perUnit + (fraction === '' ? 0 : (Number(fraction) * perUnit) / 10 ** fraction.length);
    if (nanos > MAX_NANOS) throw new RangeError(`duration "${text}" is too long`);
    s = s.slice(i);
  }
  return nanos / 1e6;
}
