import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/config/load.js';

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['3s', 3_000],
    ['1.5s', 1_500],
    ['0.1s', 100],
    ['.5s', 500],
    ['1.s', 1_000],
    ['90m', 5_400_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['24h', 86_400_000],
    ['2160h', 7_776_000_000],
    ['1h2m3s4ms', 3_723_004],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['+5m', 300_000],
  ];
  for (const [text, ms] of valid) {
    it(`reads "${text}" as ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  const invalid: [string, string][] = [
    ['', 'invalid duration ""'],
    ['10', 'missing unit in duration "10"'],
    ['1h30', 'missing unit in duration "1h30"'],
    ['-5m', 'negative duration "-5m"'],
    ['5d', 'unknown unit "d" in duration "5d"'],
    ['1 h', 'unknown unit " h" in duration "1 h"'],
    ['h', 'invalid duration "h"'],
    ['.s', 'invalid duration ".s"'],
    ['abc', 'invalid duration "abc"'],
    ['24H', 'unknown unit "H" in duration "24H"'],
    ['3000000h', 'duration "3000000h" is too long'],
  ];
  for (const [text, message] of invalid) {
    it(`rejects "${text}"`, () => {
      assert.throws(() => parseDuration(text), { message });
    });
  }
});
