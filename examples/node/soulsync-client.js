'use strict';
/**
 * A client for the SoulSync model service, as a Node backend can keep it: copy this file and
 * types/soulsync-api.d.ts (docs/integration.md says why each part is there).
 *
 * - Authentication: an ID token for a private Cloud Run service (google-auth-library, from the
 *   backend's own service account), the X-API-Key header when the service runs with keys; both
 *   optional, so that the same code calls a local server.
 * - The person's language on every call (Accept-Language): the labels, risk level in words,
 *   support block and errors come in it.
 * - One deadline per call (deadlineMs): a call returns or throws within it, whatever happens.
 *   Inside it, each attempt has a timeout, and retries with backoff where another try can
 *   succeed: Cloud Run's own 429, 503 and 504, the service's 408, and a call that timed out or
 *   lost its connection; a Retry-After on 429 or 503 is waited for, if the deadline leaves
 *   room. Every screening call is pure (the same answers give the same reply), so a retry can
 *   do no harm.
 * - Every failure, of whatever kind (a refusal, no reply, the deadline, no credentials for an
 *   ID token), is thrown as one type, ModelServiceError, whose `kind` says which.
 * - Every call sends an X-Request-ID and logs the one the service echoes: the same id is in the
 *   service's access line, so one grep finds both sides of a call.
 * - storedRecord(): what to keep of a screening, in the shape `soulsync monitor` reads.
 */

const crypto = require('node:crypto');
const axios = require('axios');
const { GoogleAuth } = require('google-auth-library');

/** @typedef {import('./types/soulsync-api').components['schemas']} Schemas */
/** @typedef {Schemas['Questionnaire']} Questionnaire */
/** @typedef {Schemas['Prediction']} Prediction */
/** @typedef {Schemas['BatchResponse']} BatchResponse */
/** @typedef {Schemas['QuestionnaireDoc']} QuestionnaireDoc */
/** @typedef {Schemas['Welcome']} Welcome */
/** @typedef {Schemas['Error']} ErrorBody */

/**
 * Statuses that another try can cure. Cloud Run's front end sends three itself, with a body
 * that is not the service's JSON: 429 (no instance could take the request), 503 (none was
 * ready in time), 504 (the request outlived the service's request timeout). The service sends
 * 408 when a request did not arrive within its deadline. Its other 4xx say what to fix in the
 * request: a retry would get the same answer.
 */
const RETRY_STATUSES = new Set([408, 429, 503, 504]);
/** Statuses whose Retry-After header says how long to wait (when it says anything). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);
/** Network failures worth another try (axios's codes): a timeout, a dropped connection. */
const RETRY_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED']);

/**
 * What went wrong, as ModelServiceError's `kind` says it:
 * - 'status': a reply other than 2xx (`status` and `body` hold it);
 * - 'no-reply': no reply at all (a timeout, a refused or dropped connection; `status` null);
 * - 'deadline': the call's deadline passed before a reply that could be used (`status` is the
 *   last one seen, or null);
 * - 'credentials': no ID token could be had for the audience (no Google credentials where the
 *   backend runs, or credentials that cannot mint one; `status` null).
 * @typedef {'status' | 'no-reply' | 'deadline' | 'credentials'} FailureKind
 */

/** Every failure of a call: read `kind` and `status`, never the message, to decide. */
class ModelServiceError extends Error {
  /**
   * @param {string} message
   * @param {{kind: FailureKind, status: number | null, body?: unknown, requestId: string, cause?: unknown}} details
   */
  constructor(message, { kind, status, body, requestId, cause }) {
    super(message, { cause });
    this.name = 'ModelServiceError';
    /** @type {FailureKind} */
    this.kind = kind;
    /** The HTTP status, or null when no reply came. */
    this.status = status;
    /**
     * The service's JSON error ({code, status, message, errors?}), or a body that is not the
     * service's (Cloud Run's front end answered, or a redirect: a wrong path), as text.
     */
    this.body = body;
    this.requestId = requestId;
  }
}

/**
 * @param {unknown} body
 * @returns {body is ErrorBody}
 */
function isServiceError(body) {
  return typeof body === 'object' && body !== null && 'message' in body && 'code' in body;
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A Retry-After header in milliseconds (seconds, or an HTTP date), or null.
 * @param {unknown} header
 * @param {number} now
 */
function retryAfterMs(header, now) {
  if (typeof header !== 'string') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const when = Date.parse(header);
  return Number.isNaN(when) ? null : Math.max(0, when - now);
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<T>}
 */
function within(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * @typedef {object} ClientOptions
 * @property {string} baseUrl the service's URL (a Cloud Run service: its status.url)
 * @property {string} [apiKey] sent as X-API-Key, for a service that runs with SOULSYNC_API_KEYS
 * @property {string} [idTokenAudience] for a private Cloud Run service: the audience of the ID
 *   token, which is the service's URL; leave it out for a local service
 * @property {number} [deadlineMs] the longest a call takes, retries and waits included: it
 *   returns or throws by then
 * @property {number} [timeoutMs] the longest one attempt takes: room for a cold start
 * @property {number} [retries] further attempts after the first, within the deadline
 * @property {number} [backoffMs] the first retry's wait; it doubles with each retry
 * @property {(line: string) => void} [log] where the client's JSON log lines go
 */

/**
 * @typedef {object} CallOptions
 * @property {string} [language] the person's language, as an Accept-Language value ('id',
 *   'id-ID', 'en'): the reply's labels, risk level in words, support block and errors are in
 *   it
 */

/**
 * @param {ClientOptions} options
 */
function createModelClient({
  baseUrl,
  apiKey,
  idTokenAudience,
  deadlineMs = 10000,
  timeoutMs = 8000,
  retries = 3,
  backoffMs = 200,
  log = console.log,
}) {
  const http = axios.create({
    baseURL: baseUrl,
    maxRedirects: 0, // a redirect means a wrong path (docs/integration.md): fail, do not follow
    validateStatus: () => true, // every status is handled below
  });
  // google-auth-library finds the backend's credentials itself (on Cloud Run, GKE or GCE: the
  // metadata server) and keeps the token until it is about to expire. Asked for lazily, so that
  // a missing credential is a call's ModelServiceError, not an unhandled rejection.
  /** @type {ReturnType<GoogleAuth['getIdTokenClient']> | null} */
  let idTokens = null;

  /**
   * @param {string} call
   * @param {string} requestId
   * @param {number} remaining
   * @returns {Promise<string | null>}
   */
  async function authorization(call, requestId, remaining) {
    if (!idTokenAudience) return null;
    try {
      idTokens ??= new GoogleAuth().getIdTokenClient(idTokenAudience);
      const headers = await within((async () => (await idTokens).getRequestHeaders())(), remaining);
      return headers.get('authorization');
    } catch (error) {
      idTokens = null; // ask again on the next call: credentials may appear
      const reason = error instanceof Error ? error.message : String(error);
      throw new ModelServiceError(`${call}: no ID token for ${idTokenAudience}: ${reason}`, {
        kind: 'credentials',
        status: null,
        requestId,
        cause: error,
      });
    }
  }

  /**
   * @param {'get' | 'post'} method
   * @param {string} path
   * @param {unknown} data
   * @param {CallOptions} options
   * @returns {Promise<any>}
   */
  async function send(method, path, data, { language } = {}) {
    // One id for every attempt, so that the retries of one call share it in both logs.
    const requestId = crypto.randomUUID().replaceAll('-', '');
    const call = `${method.toUpperCase()} ${path}`;
    const deadline = Date.now() + deadlineMs;
    /** @type {ModelServiceError | null} */
    let last = null;
    for (let attempt = 0; ; attempt += 1) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ModelServiceError(`${call}: no usable reply within ${deadlineMs} ms (${last?.message ?? 'none'})`, {
          kind: 'deadline',
          status: last?.status ?? null,
          body: last?.body,
          requestId,
          cause: last,
        });
      }
      /** @type {Record<string, string>} */
      const headers = { 'X-Request-ID': requestId };
      if (language) headers['Accept-Language'] = language;
      if (apiKey) headers['X-API-Key'] = apiKey;
      const token = await authorization(call, requestId, remaining);
      if (token) headers.Authorization = token;

      let response;
      try {
        const timeout = Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
        response = await http.request({ method, url: path, data, headers, timeout });
      } catch (error) {
        const code = axios.isAxiosError(error) ? error.code : undefined;
        log(JSON.stringify({ model_call: call, error: code ?? String(error), request_id: requestId, attempt }));
        last = new ModelServiceError(`${call}: no reply (${code ?? error})`, {
          kind: 'no-reply',
          status: null,
          requestId,
          cause: error,
        });
        if (!(code && RETRY_CODES.has(code)) || attempt >= retries) throw last;
        await pause(backoffMs * 2 ** attempt, deadline);
        continue;
      }
      // The service echoes X-Request-ID (its own new one if ours was not a plain token);
      // Cloud Run's own errors come without it.
      const echoed = response.headers['x-request-id'];
      log(JSON.stringify({ model_call: call, status: response.status, request_id: echoed ?? requestId, attempt }));
      if (response.status >= 200 && response.status < 300) return response.data;
      last = refusal(call, response, echoed ?? requestId);
      if (!RETRY_STATUSES.has(response.status) || attempt >= retries) throw last;
      let wait = backoffMs * 2 ** attempt;
      if (RETRY_AFTER_STATUSES.has(response.status)) {
        wait = Math.max(wait, retryAfterMs(response.headers['retry-after'], Date.now()) ?? 0);
      }
      if (Date.now() + wait >= deadline) throw last; // no room for another try: say why now
      await sleep(wait);
    }
  }

  /**
   * Wait before the next attempt, but never past the deadline (the loop then says so).
   * @param {number} ms
   * @param {number} deadline
   */
  async function pause(ms, deadline) {
    await sleep(Math.max(0, Math.min(ms, deadline - Date.now())));
  }

  return {
    /**
     * Screen one questionnaire (the old clients' path; POST /prediction/ is the same).
     * @param {Questionnaire} answers
     * @param {CallOptions} [options]
     * @returns {Promise<Prediction>}
     */
    predict: (answers, options) => send('post', '/predict', answers, options),
    /**
     * Screen many at once (up to the service's batch limit); results in the order sent.
     * @param {Questionnaire[]} questionnaires
     * @param {CallOptions} [options]
     * @returns {Promise<BatchResponse>}
     */
    predictBatch: (questionnaires, options) =>
      send('post', '/predict/batch', { questionnaires }, options),
    /**
     * The ten questions with their codes and labels, to render the app's form from.
     * @param {CallOptions} [options]
     * @returns {Promise<QuestionnaireDoc>}
     */
    questionnaire: (options) => send('get', '/questionnaire', undefined, options),
    /**
     * The service's and the model's versions (GET /: on a *.run.app address Google's front
     * end keeps paths ending in z, such as /readyz, for itself).
     * @returns {Promise<Welcome>}
     */
    welcome: () => send('get', '/', undefined, {}),
  };
}

/**
 * A reply other than 2xx as the error a call throws. The service's own errors are JSON with
 * `code` and `message`; any other body is not the service's: Cloud Run's front end answered
 * (its 401, 403, 429, 503, 504 pages), or the service redirected a wrong path (308).
 * @param {string} call
 * @param {import('axios').AxiosResponse} response
 * @param {string} requestId
 */
function refusal(call, response, requestId) {
  const { status, data: body } = response;
  let reason;
  if (isServiceError(body)) {
    reason = body.message;
  } else if (status >= 300 && status < 400) {
    reason = `a redirect to ${response.headers.location ?? '?'}: a wrong path (docs/integration.md)`;
  } else {
    reason = "not the service's JSON: Cloud Run's front end answered";
  }
  return new ModelServiceError(`${call}: ${status} ${reason}`, { kind: 'status', status, body, requestId });
}

/**
 * What to keep of one screening: the answers as sent (flat, one key per question), the
 * model's version and what it said, and when. A file of these, one JSON object a line, is what
 * `soulsync monitor` reads (it ignores the extra columns and names them in its report).
 * @param {Questionnaire} answers
 * @param {Prediction} prediction
 * @param {Date} [when]
 */
function storedRecord(answers, prediction, when = new Date()) {
  return {
    ...answers,
    timestamp: when.toISOString(),
    model_version: prediction.model_version,
    result: prediction.result,
    risk_level: prediction.risk_level,
    probability: prediction.probability,
  };
}

module.exports = { createModelClient, storedRecord, ModelServiceError, RETRY_STATUSES };
