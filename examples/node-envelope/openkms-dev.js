'use strict';
// The test kit of openkms for Node.js tests: starts `openkms serve --dev` on a free port (or
// targets a running dev server named by OPENKMS_ENDPOINT), and drives its control API, over HTTP
// (signed like the SDK's V3 requests) and through the `openkms dev` command line. No dependency
// beyond Node itself: copy this file into a project of your own.

const crypto = require('node:crypto');
const net = require('node:net');
const { spawn, execFile } = require('node:child_process');

// Dev mode's well-known administrator pair: public on purpose (openkms's README, "Testing with
// openkms"); a server with `[server] production = true` refuses dev mode.
const DEV_ACCESS_KEY_ID = 'LTAI0penkmsDevAdmin00001';
const DEV_ACCESS_KEY_SECRET = 'openkmsDevSecretNotForProduction';
const DEV_REGION_ID = 'cn-hangzhou';
const V3 = 'ACS3-HMAC-SHA256';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are (encodeURIComponent also keeps !'()*).
function percentEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

/** Thrown for a control call the server refuses: its HTTP status, Alibaba code and message. */
class ControlError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

class OpenKmsDev {
  constructor({ endpoint, process = null, executable = 'openkms' }) {
    this.endpoint = endpoint; // host:port
    this.accessKeyId = DEV_ACCESS_KEY_ID;
    this.accessKeySecret = DEV_ACCESS_KEY_SECRET;
    this.regionId = DEV_REGION_ID;
    this.executable = executable;
    this._process = process;
  }

  /** A dev server: the one at OPENKMS_ENDPOINT, else `openkms serve --dev` started here. */
  static async start({ executable = process.env.OPENKMS_BIN || 'openkms', timeoutMs = 60000 } = {}) {
    if (process.env.OPENKMS_ENDPOINT) {
      const kit = new OpenKmsDev({ endpoint: process.env.OPENKMS_ENDPOINT, executable });
      await kit._waitReady(null, timeoutMs);
      return kit;
    }
    const port = await freePort();
    const child = spawn(executable, ['serve', '--dev', '--host', '127.0.0.1', '--port', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const kit = new OpenKmsDev({ endpoint: `127.0.0.1:${port}`, process: child, executable });
    try {
      await kit._waitReady(child, timeoutMs);
    } catch (err) {
      child.kill();
      err.message += `\n${stderr}`;
      throw err;
    }
    return kit;
  }

  async _waitReady(child, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let exited = null;
    child?.once('exit', (code) => {
      exited = code;
    });
    while (Date.now() < deadline) {
      if (exited !== null) throw new Error(`openkms serve --dev exited with status ${exited}`);
      try {
        if ((await fetch(`http://${this.endpoint}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`openkms at ${this.endpoint} not ready after ${timeoutMs} ms`);
  }

  /** Stops the server this kit started (one it only targets keeps running). */
  async stop() {
    const child = this._process;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** Options for `makeClient` (the SDK's config), plain HTTP as dev mode serves. */
  clientOptions() {
    const { endpoint, accessKeyId, accessKeySecret, regionId } = this;
    return { endpoint, accessKeyId, accessKeySecret, regionId, protocol: 'http' };
  }

  /** One control API call: `control('POST', '/clock/advance', { Seconds: 60 })`. */
  async control(method, path, body = undefined, query = {}) {
    const fullPath = `/_openkms${path}`;
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers = {
      host: this.endpoint,
      'content-type': 'application/json',
      'x-acs-action': 'OpenKmsControl',
      'x-acs-version': '1',
      'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'x-acs-signature-nonce': crypto.randomUUID(),
      'x-acs-content-sha256': sha256(payload),
    };
    const signed = Object.keys(headers).sort();
    const canonicalQuery = Object.entries(query)
      .map(([k, v]) => [percentEncode(k), percentEncode(String(v))])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonical = [
      method,
      fullPath,
      canonicalQuery,
      signed.map((name) => `${name}:${headers[name].trim()}\n`).join(''),
      signed.join(';'),
      headers['x-acs-content-sha256'],
    ].join('\n');
    const signature = crypto
      .createHmac('sha256', this.accessKeySecret)
      .update(`${V3}\n${sha256(canonical)}`)
      .digest('hex');
    headers.authorization = `${V3} Credential=${this.accessKeyId},SignedHeaders=${signed.join(';')},Signature=${signature}`;
    delete headers.host; // fetch sends it itself, the same value
    const url = `http://${this.endpoint}${fullPath}${canonicalQuery ? `?${canonicalQuery}` : ''}`;
    const response = await fetch(url, { method, headers, body: payload || undefined });
    const answer = await response.json();
    if (!response.ok) throw new ControlError(response.status, answer.Code, answer.Message);
    return answer;
  }

  /** `openkms dev ARGS... --endpoint` this server: its JSON answer. */
  cli(...args) {
    return new Promise((resolve, reject) => {
      execFile(this.executable, ['dev', '--endpoint', this.endpoint, ...args], (err, stdout, stderr) => {
        if (err) {
          err.message += `\n${stderr}`;
          reject(err);
        } else {
          resolve(JSON.parse(stdout));
        }
      });
    });
  }
}

module.exports = { OpenKmsDev, ControlError };
