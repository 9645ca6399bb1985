'use strict';
/**
 * The client at work, against a running service (docs/integration.md):
 *
 *   MODEL_URL=http://localhost:8080 node example.js [answers.json]
 *
 * Settings, all optional: MODEL_URL (default http://localhost:8080), MODEL_API_KEY (for a
 * service with API keys), MODEL_ID_TOKEN_AUDIENCE (for a private Cloud Run service: its URL),
 * MODEL_TIMEOUT_MS, MODEL_RETRIES, MODEL_BACKOFF_MS, STORE_FILE (default screenings.jsonl).
 *
 * It screens one questionnaire (the contract's example unless a file is named), a batch of two,
 * and a bad one (a 422), appends what a backend keeps to STORE_FILE, and prints one JSON line
 * per step and per call. Exit status 0; 2 when the service refuses the key (401) or the token
 * (403); 1 for anything else.
 */

const fs = require('node:fs');
const path = require('node:path');
const { createModelClient, storedRecord, ModelServiceError } = require('./soulsync-client');

/** @typedef {import('./soulsync-client').Prediction} Prediction */
/** @typedef {import('./soulsync-client').Questionnaire} Questionnaire */

const CONTRACT = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'contract.json');

/** @param {Record<string, unknown>} fields */
function print(fields) {
  console.log(JSON.stringify(fields));
}

/**
 * What the app shows a person: the risk level (not the probability: each group has its own
 * threshold, so "7 %" can mean Depression), the notice, and the support block whenever the
 * reply has one.
 * @param {Prediction} prediction
 */
function whatToShow(prediction) {
  return {
    risk_level: prediction.risk_level,
    notice: prediction.notice,
    support: prediction.support ?? null,
  };
}

/** @param {string | undefined} text @param {number} fallback */
function number(text, fallback) {
  return text ? Number(text) : fallback;
}

async function main() {
  const client = createModelClient({
    baseUrl: process.env.MODEL_URL || 'http://localhost:8080',
    apiKey: process.env.MODEL_API_KEY || undefined,
    idTokenAudience: process.env.MODEL_ID_TOKEN_AUDIENCE || undefined,
    timeoutMs: number(process.env.MODEL_TIMEOUT_MS, 10000),
    retries: number(process.env.MODEL_RETRIES, 3),
    backoffMs: number(process.env.MODEL_BACKOFF_MS, 200),
  });
  const store = process.env.STORE_FILE || 'screenings.jsonl';
  const source = process.argv[2];
  /** @type {Questionnaire} */
  const answers = source
    ? JSON.parse(fs.readFileSync(source, 'utf8'))
    : JSON.parse(fs.readFileSync(CONTRACT, 'utf8')).example;

  const welcome = await client.welcome();
  print({ step: 'welcome', version: welcome.version, model_version: welcome.model_version });

  const prediction = await client.predict(answers);
  // The old contract, unchanged: `result` is what the old backend stored.
  print({ step: 'predict', result: prediction.result, show: whatToShow(prediction) });

  // A professional who reported suicidal thoughts: `support` is in the reply, whatever the score.
  /** @type {Questionnaire} */
  const other = { ...answers, WorkOrStudent: 1, SuicidalTh: 1 };
  const batch = await client.predictBatch([answers, other]);
  print({
    step: 'batch',
    count: batch.count,
    results: batch.results.map((r) => ({ result: r.result, risk_level: r.risk_level, support: 'support' in r })),
  });

  const lines = [
    storedRecord(answers, prediction),
    ...batch.results.map((r, i) => storedRecord([answers, other][i], r)),
  ];
  fs.appendFileSync(store, lines.map((line) => JSON.stringify(line) + '\n').join(''));
  print({ step: 'stored', file: store, records: lines.length });

  try {
    // An answer out of range: 422, naming the field and what it accepts. Not retried.
    await client.predict(/** @type {Questionnaire} */ ({ ...answers, Pressure: 9 }));
    print({ step: 'bad body', status: 200 });
  } catch (error) {
    if (!(error instanceof ModelServiceError) || error.status !== 422) throw error;
    const body = /** @type {import('./soulsync-client').ErrorBody} */ (error.body);
    print({ step: 'bad body', status: error.status, message: body.message, errors: body.errors });
  }
}

main().catch((error) => {
  if (error instanceof ModelServiceError && (error.status === 401 || error.status === 403)) {
    const hint = error.status === 401 ? 'set MODEL_API_KEY to a key of the service' : 'the ID token was refused: grant the backend roles/run.invoker';
    print({ step: 'refused', status: error.status, message: error.message, hint });
    process.exitCode = 2;
    return;
  }
  print({ step: 'failed', status: error instanceof ModelServiceError ? error.status : null, message: String(error.message ?? error) });
  process.exitCode = 1;
});
