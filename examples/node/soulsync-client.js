'use strict';
/**
 * A client for the SoulSync model service, as a Node backend can keep it: copy this file and
 * types/soulsync-api.d.ts (docs/integration.md says why each part is there).
 *
 * - Authentication: an ID token for a private Cloud Run service (google-auth-library, from the
 *   backend's own service account), the X-API-Key header when the service runs with keys; both
 *   optional, so that the same code calls a local server.
 * - A timeout on every call, and retries with backoff where another try can succeed: Cloud Run's
 *   own 429, 503 and 504 and a call that timed out or lost its connection. Every screening call
 *   is pure (the same answers give the same reply), so a retry can do no harm.
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
/** Network failures worth another try (axios's codes): a timeout, a dropped connection. */
const RETRY_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED']);

/** A reply other than 2xx, or no reply at all (status null). */
class ModelServiceError extends Error {
  /**
   * @param {string} message
   * @param {{status: number | null, body?: unknown, requestId: string}} details
   */
  constructor(message, { status, body, requestId }) {
    super(message);
    this.name = 'ModelServiceError';
    /** The HTTP status, or null when no reply came (a timeout, a refused connection). */
    this.status = status;
    /** The service's JSON error ({code, status, message, errors?}), or Cloud Run's text. */
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
 * @typedef {object} ClientOptions
 * @property {string} baseUrl the service's URL (a Cloud Run service: its status.url)
 * @property {string} [apiKey] sent as X-API-Key, for a service that runs with SOULSYNC_API_KEYS
 * @property {string} [idTokenAudience] for a private Cloud Run service: the audience of the ID
 *   token, which is the service's URL
 * @property {number} [timeoutMs] per attempt: long enough for a cold start and the
 *   service's own deadline (docs/integration.md)
 * @property {number} [retries] further attempts after the first
 * @property {number} [backoffMs] the first retry's wait; it doubles with each retry
 * @property {(line: string) => void} [log] where the client's JSON log lines go
 */

/**
 * @param {ClientOptions} options
 */
function createModelClient({
  baseUrl,
  apiKey,
  idTokenAudience,
  timeoutMs = 10000,
  retries = 3,
  backoffMs = 200,
  log = console.log,
}) {
  const http = axios.create({
    baseURL: baseUrl,
    timeout: timeoutMs,
    maxRedirects: 0, // a redirect means a wrong path (docs/integration.md): fail, do not follow
    validateStatus: () => true, // every status is handled below
  });
  // google-auth-library finds the backend's credentials itself (on Cloud Run, GKE or GCE: the
  // metadata server) and keeps the token until it is about to expire.
  const idTokens = idTokenAudience ? new GoogleAuth().getIdTokenClient(idTokenAudience) : null;

  /**
   * @param {'get' | 'post'} method
   * @param {string} path
   * @param {unknown} [data]
   * @returns {Promise<any>}
   */
  async function send(method, path, data) {
    // One id for every attempt, so that the retries of one call share it in both logs.
    const requestId = crypto.randomUUID().replaceAll('-', '');
    for (let attempt = 0; ; attempt += 1) {
      /** @type {Record<string, string>} */
      const headers = { 'X-Request-ID': requestId };
      if (apiKey) headers['X-API-Key'] = apiKey;
      if (idTokens) {
        const authorization = (await (await idTokens).getRequestHeaders()).get('authorization');
        if (authorization) headers.Authorization = authorization;
      }
      const call = `${method.toUpperCase()} ${path}`;
      let response;
      try {
        response = await http.request({ method, url: path, data, headers });
      } catch (error) {
        const code = axios.isAxiosError(error) ? error.code : undefined;
        log(JSON.stringify({ model_call: call, error: code ?? String(error), request_id: requestId, attempt }));
        if (code && RETRY_CODES.has(code) && attempt < retries) {
          await sleep(backoffMs * 2 ** attempt);
          continue;
        }
        throw new ModelServiceError(`${call}: no reply (${code ?? error})`, { status: null, requestId });
      }
      // The service echoes X-Request-ID (its own new one if ours was not a plain token);
      // Cloud Run's own errors come without it.
      const echoed = response.headers['x-request-id'];
      log(JSON.stringify({ model_call: call, status: response.status, request_id: echoed ?? requestId, attempt }));
      if (response.status >= 200 && response.status < 300) return response.data;
      if (RETRY_STATUSES.has(response.status) && attempt < retries) {
        await sleep(backoffMs * 2 ** attempt);
        continue;
      }
      const body = response.data;
      const message = isServiceError(body)
        ? body.message
        : `HTTP ${response.status} from Cloud Run's front end, not from the service`;
      throw new ModelServiceError(`${call}: ${response.status} ${message}`, {
        status: response.status,
        body,
        requestId: echoed ?? requestId,
      });
    }
  }

  return {
    /**
     * Screen one questionnaire (the old clients' path; POST /prediction/ is the same).
     * @param {Questionnaire} answers
     * @returns {Promise<Prediction>}
     */
    predict: (answers) => send('post', '/predict', answers),
    /**
     * Screen many at once (up to the service's batch limit); results in the order sent.
     * @param {Questionnaire[]} questionnaires
     * @returns {Promise<BatchResponse>}
     */
    predictBatch: (questionnaires) => send('post', '/predict/batch', { questionnaires }),
    /**
     * The ten questions with their codes and labels, to render the app's form from.
     * @param {'en' | 'id'} [lang]
     * @returns {Promise<QuestionnaireDoc>}
     */
    questionnaire: (lang = 'en') => send('get', `/questionnaire?lang=${lang}`),
    /**
     * The service's and the model's versions (GET /: on a *.run.app address Google's front
     * end keeps paths ending in z, such as /readyz, for itself).
     * @returns {Promise<Welcome>}
     */
    welcome: () => send('get', '/'),
  };
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
