import { describe, expect, it } from 'vitest';
import { transcribeReport } from './transcribe-report.ts';

const gold = (wer: number) => ({
  clips: 6,
  refWords: 60,
  audioSeconds: 30,
  wer,
  werCi95: [wer - 0.1, wer + 0.1],
  cer: wer / 2,
  cerCi95: [0, 1],
  werByCondition: { espeak: 0.9, flite: 0.3, fliteNoisy: 0.5 },
  werSeenTemplates: 0.4,
  werHeldOutTemplates: 0.6,
  rareWordRecall: { recall: 0.5, tokens: 4 },
  errorsInLeastConfident20: { lowestConfidence: 0.3, random: 0.2, oracle: 0.4 },
  wordAuc: 0.8,
  cpuPerAudioSecond: 0.25,
});

describe('transcribeReport', () => {
  it('one table per domain, one row per run, percentages from the JSON', () => {
    const md = transcribeReport({
      command: 'npm run bench:transcribe',
      commit: 'abc',
      started: 'x',
      runs: [
        { domain: 'produce', arm: 'stock', n: 0, seed: null, relativeWerReduction: null, gold: gold(0.6), canary: { wer: 0.27 }, retrain: null },
        {
          domain: 'produce',
          arm: 'random',
          n: 25,
          seed: 1,
          relativeWerReduction: 0.25,
          gold: gold(0.45),
          canary: null,
          retrain: { totalSeconds: 1.2, buildSeconds: 0.2, loadSeconds: 1 },
        },
        {
          domain: 'pharmacy',
          arm: 'coverage',
          n: 50,
          seed: null,
          relativeWerReduction: 0.1,
          gold: gold(0.5),
          canary: { wer: 0.3 },
          retrain: { totalSeconds: 2, buildSeconds: 1, loadSeconds: 1 },
        },
      ],
    });
    expect(md.match(/^### /gm)).toHaveLength(2);
    expect(md).toContain('| stock | 0 | – | 60.0 [50.0–70.0] |');
    expect(md).toContain('| random | 25 | 1 | 45.0 [35.0–55.0] | 22.5 [0.0–100.0] | 25.0 % |');
    expect(md).toContain('| 1.2 (0.2 + 1) | 0.25 | – |');
    expect(md).toContain('| coverage | 50 | – | 50.0');
  });
});
