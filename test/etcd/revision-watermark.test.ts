import { describe, expect, it } from 'vitest';
import { RevisionWatermark } from '../../src/etcd/revision-watermark.js';

describe('RevisionWatermark', () => {
  it('does not mistake answers that arrive out of order for a restore', () => {
    const w = new RevisionWatermark();
    const a = w.beforeSend();
    const b = w.beforeSend();
    // Both sent before anything was seen; b's answer (revision 9) arrives after a's (10).
    expect(w.observe('10', a)).toBe(false);
    expect(w.observe('9', b)).toBe(false);
    expect(w.wentBackBelow).toBeUndefined();
    expect(w.mayRepeat('9')).toBe(false);
  });

  it('notices an answer below what was seen before the call was sent, until etcd is advanced', () => {
    const w = new RevisionWatermark();
    w.observe('50', w.beforeSend());
    // A restore from a snapshot at revision 30: the next write lands at 31.
    expect(w.observe('31', w.beforeSend())).toBe(true);
    expect(w.wentBackBelow).toBe('50');
    expect(w.mayRepeat('31')).toBe(true);
    expect(w.mayRepeat('50')).toBe(true);
    expect(w.highWater).toBe('50');
    // Once an operator advanced the revision past the old high-water, tokens are unique again.
    expect(w.observe('51', w.beforeSend())).toBe(false);
    expect(w.mayRepeat('51')).toBe(false);
  });
});
