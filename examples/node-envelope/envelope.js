'use strict';
// An application's envelope encryption with Alibaba Cloud KMS: each message is encrypted locally
// under a fresh data key (AES-256-GCM) and only the data key is encrypted by KMS
// (GenerateDataKey); opening asks KMS to Decrypt the data key. Written against the official SDK
// and Node's own crypto, nothing of openkms: pointed at Alibaba Cloud it works the same.

const crypto = require('node:crypto');
const Kms = require('@alicloud/kms20160120');

const Client = Kms.default;

/** A KMS client. `endpoint` is `host:port` (openkms) or Alibaba's `kms.<region>.aliyuncs.com`. */
function makeClient({ endpoint, accessKeyId, accessKeySecret, regionId, protocol = 'https' }) {
  return new Client({ endpoint, accessKeyId, accessKeySecret, regionId, protocol, type: 'access_key' });
}

/** Encrypts `plaintext` (a Buffer) under a new data key of the CMK `keyId`: a JSON envelope. */
async function seal(client, keyId, plaintext) {
  const dataKey = await client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, keySpec: 'AES_256' }));
  const key = Buffer.from(dataKey.plaintext, 'base64');
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  key.fill(0); // the data key in clear lives no longer than this call
  return JSON.stringify({
    key: dataKey.ciphertextBlob,
    nonce: nonce.toString('base64'),
    data: sealed.toString('base64'),
  });
}

/** The plaintext of an envelope `seal` made (a Buffer); KMS decrypts the data key. */
async function open(client, envelopeText) {
  const envelope = JSON.parse(envelopeText);
  const dataKey = await client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: envelope.key }));
  const key = Buffer.from(dataKey.plaintext, 'base64');
  const sealed = Buffer.from(envelope.data, 'base64');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.nonce, 'base64'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  key.fill(0);
  return plaintext;
}

module.exports = { makeClient, seal, open };
