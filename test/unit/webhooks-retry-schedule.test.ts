import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../shared/config';
import { parseDuration } from '../../shared/config-formats';
import { parseRetrySchedule } from '../../shared/webhooks/retry-schedule';

describe('webhook retry schedule', () => {
  for (const [text, ms] of [
    ['250ms', 250],
    ['5s', 5_000],
    ['2m', 120_000],
    ['1.5h', 5_400_000],
    ['3d', 259_200_000],
  ] as const) {
    it(`parseDuration › "${text}" › ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }

  for (const text of ['', '5', 's', '-5s', '5 minutes', '5w']) {
    it(`parseDuration › "${text}" › throws`, () => assert.throws(() => parseDuration(text)));
  }

  it('parseRetrySchedule › the default schedule › first retry within seconds, about a day in all, attempts = retries + 1', () => {
    const schedule = parseRetrySchedule(parseConfig({}).WEBHOOK_RETRY_SCHEDULE);
    const total = schedule.delays.reduce((a, b) => a + b, 0);
    assert.ok(schedule.delays[0] <= 10_000);
    assert.ok(total >= 18 * 3_600_000 && total <= 30 * 3_600_000, `total ${total / 3_600_000} h`);
    assert.equal(schedule.attempts, schedule.delays.length + 1);
  });

  it('delayBefore › extremes of the random source › within ±20% of the scheduled delay', () => {
    const schedule = parseRetrySchedule('100ms, 1s');
    assert.equal(
      schedule.delayBefore(1, () => 0),
      800,
    );
    assert.equal(
      schedule.delayBefore(1, () => 1),
      1200,
    );
    assert.equal(
      schedule.delayBefore(0, () => 0.5),
      100,
    );
  });

  it('delayBefore › past the end of the schedule › the last delay repeats', () => {
    const schedule = parseRetrySchedule('1s,2s');
    assert.equal(
      schedule.delayBefore(9, () => 0.5),
      2000,
    );
  });

  it('parseRetrySchedule › empty or with a bad entry › throws', () => {
    assert.throws(() => parseRetrySchedule(' , '));
    assert.throws(() => parseRetrySchedule('5s,later'));
  });
});
