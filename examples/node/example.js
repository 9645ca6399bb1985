'use strict';
/**
 * The client at work, against a running service (docs/integration.md):
 *
 *   MODEL_URL=http://localhost:8080 node example.js [answers.json]
 *
 * Settings, all optional: MODEL_URL (default http://localhost:8080), MODEL_API_KEY (for a
 * service with API keys), MODEL_ID_TOKEN_AUDIENCE (for a private Cloud Run service: its URL),
 * MODEL_LANGUAGE (the person's language, default id), MODEL_DEADLINE_MS, MODEL_TIMEOUT_MS,
 * MODEL_RETRIES, MODEL_BACKOFF_MS, STORE_FILE (default screenings.jsonl).
 *
 * It screens one questionnaire (the contract's example unless a file is named), a batch of two
 * others, and a bad one (a 422), in the person's language; appends what a backend keeps to
 * STORE_FILE, each screening once; and prints one JSON line per step and per call. Exit status
 * 0; 2 when the service or Cloud Run refuses the call (401, 403) or no ID token can be had; 1
 * for anything else.
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
 * What the app shows a person: the risk level in their language (not the probability: each
 * group has its own threshold, so "7 %" can mean Depression), the notice, and the support block
 * whenever the reply has one.
 * @param {Prediction} prediction
 */
function whatToShow(prediction) {
  return {
    risk_level: prediction.risk_level,
    risk_level_text: prediction.risk_level_text,
    notice: prediction.notice,
    support: prediction.support ?? null,
  };
}

/**
 * A working professional who reported suicidal thoughts and scores far below the threshold:
 * No Depression, and the support block all the same.
 * @type {Questionnaire}
 */
const SUPPORT_WHATEVER_THE_SCORE = {
  Gender: 1, WorkOrStudent: 1, Pressure: 1, Satisfaction: 5, SleepDr: 1, DietHabits: 0,
  SuicidalTh: 1, WSHours: 8, FinancialStress: 1, FamHistory: 0,
};

/** @param {string | undefined} text @param {number} fallback */
function number(text, fallback) {
  return text ? Number(text) : fallback;
}

async function main() {
  const client = createModelClient({
    baseUrl: process.env.MODEL_URL || 'http://localhost:8080',
    apiKey: process.env.MODEL_API_KEY || undefined,
    idTokenAudience: process.env.MODEL_ID_TOKEN_AUDIENCE || undefined,
    deadlineMs: number(process.env.MODEL_DEADLINE_MS, 10000),
    timeoutMs: number(process.env.MODEL_TIMEOUT_MS, 8000),
    retries: number(process.env.MODEL_RETRIES, 3),
    backoffMs: number(process.env.MODEL_BACKOFF_MS, 200),
  });
  const store = process.env.STORE_FILE || 'screenings.jsonl';
  const language = process.env.MODEL_LANGUAGE || 'id';
  const source = process.argv[2];
  /** @type {Questionnaire} */
  const answers = source
    ? JSON.parse(fs.readFileSync(source, 'utf8'))
    : JSON.parse(fs.readFileSync(CONTRACT, 'utf8')).example;

  const welcome = await client.welcome();
  print({ step: 'welcome', version: welcome.version, model_version: welcome.model_version });

  const prediction = await client.predict(answers, { language });
  // The old contract, unchanged: `result` is what the old backend stored.
  print({ step: 'predict', result: prediction.result, show: whatToShow(prediction) });

  // Two other people in one call: a working professional with the same answers, and one who
  // reported suicidal thoughts, whose reply holds `support` whatever the score.
  /** @type {Questionnaire[]} */
  const others = [{ ...answers, WorkOrStudent: /** @type {const} */ (1) }, SUPPORT_WHATEVER_THE_SCORE];
  const batch = await client.predictBatch(others, { language });
  print({
    step: 'batch',
    count: batch.count,
    results: batch.results.map((r) => ({ result: r.result, risk_level: r.risk_level, support: 'support' in r })),
  });

  // Each screening stored once.
  const lines = [
    storedRecord(answers, prediction),
    ...batch.results.map((r, i) => storedRecord(others[i], r)),
  ];
  fs.appendFileSync(store, lines.map((line) => JSON.stringify(line) + '\n').join(''));
  print({ step: 'stored', file: store, records: lines.length });

  try {
    // An answer out of range: 422, naming the field and what it accepts. Not retried.
    await client.predict(/** @type {Questionnaire} */ ({ ...answers, Pressure: 9 }), { language });
    print({ step: 'bad body', status: 200 });
  } catch (error) {
    if (!(error instanceof ModelServiceError) || error.status !== 422) throw error;
    const body = /** @type {import('./soulsync-client').ErrorBody} */ (error.body);
    print({ step: 'bad body', status: error.status, message: body.message, errors: body.errors });
  }
}

/**
 * What to check when a call is refused (docs/integration.md, "Authentication"), or null.
 * @param {ModelServiceError} error
 */
function refusalHint(error) {
  if (error.kind === 'credentials') {
    return 'no ID token: run where the backend has a service account (Cloud Run), or leave MODEL_ID_TOKEN_AUDIENCE unset for a local service';
  }
  if (error.status === 401 && isServiceError(error.body)) return 'set MODEL_API_KEY to a key of the service';
  if (error.status === 401 || error.status === 403) {
    return "Cloud Run refused the ID token: is one sent (MODEL_ID_TOKEN_AUDIENCE), for the service's URL, by an account with roles/run.invoker on the service?";
  }
  return null;
}

/** @param {unknown} body */
function isServiceError(body) {
  return typeof body === 'object' && body !== null && 'code' in body;
}

main().catch((error) => {
  const hint = error instanceof ModelServiceError ? refusalHint(error) : null;
  if (hint) {
    print({ step: 'refused', kind: error.kind, status: error.status, message: error.message, hint });
    process.exitCode = 2;
    return;
  }
  const known = error instanceof ModelServiceError;
  print({ step: 'failed', kind: known ? error.kind : null, status: known ? error.status : null, message: String(error.message ?? error) });
  process.exitCode = 1;
});
