'use strict';
// The application's tests, against `openkms serve --dev`: no cloud account needed. One server for
// the file, emptied before each test through the control API; the clock and the faults moved
// through the command line (`openkms dev ...`) and the control API over HTTP.

const { describe, test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const Kms = require('@alicloud/kms20160120');

const { makeClient, seal, open } = require('../envelope');
const { OpenKmsDev, ControlError } = require('../openkms-dev');

const DAY = 86400;

describe('envelope encryption against openkms serve --dev', () => {
  let openkms;
  let client;

  before(async () => {
    openkms = await OpenKmsDev.start();
    client = makeClient(openkms.clientOptions());
  });

  after(async () => {
    await openkms?.stop();
  });

  beforeEach(async () => {
    await openkms.control('POST', '/reset');
  });

  async function newKey() {
    return (await client.createKey(new Kms.CreateKeyRequest({}))).keyMetadata.keyId;
  }

  test('a sealed message opens, and its envelope holds no plaintext', async () => {
    const keyId = await newKey();
    const envelope = await seal(client, keyId, Buffer.from('hello from node'));
    assert.doesNotMatch(envelope, /hello/);
    assert.equal((await open(client, envelope)).toString(), 'hello from node');
  });

  test('a message cannot be opened once its key is deleted (clock moved by the command line)', async () => {
    const keyId = await newKey();
    const envelope = await seal(client, keyId, Buffer.from('hello'));
    await client.scheduleKeyDeletion(new Kms.ScheduleKeyDeletionRequest({ keyId, pendingWindowInDays: 7 }));
    const was = await openkms.control('GET', '/clock');
    const moved = await openkms.cli('clock', 'advance', '8d');
    assert.deepEqual(moved.Scheduler.Purged, [keyId]);
    assert.ok(moved.Epoch - was.Epoch >= 8 * DAY);
    await assert.rejects(open(client, envelope), (err) => {
      assert.equal(err.code, 'Forbidden.KeyNotFoundError'); // the SDK appends "Error" to the code
      assert.equal(err.data.Code, 'Forbidden.KeyNotFound');
      assert.match(err.message, /code: 404, The specified Key is not found/);
      return true;
    });
  });

  test('a key pending deletion is kept until its window ends (clock moved over HTTP)', async () => {
    const keyId = await newKey();
    await client.scheduleKeyDeletion(new Kms.ScheduleKeyDeletionRequest({ keyId, pendingWindowInDays: 7 }));
    const sixDays = await openkms.control('POST', '/clock/advance', { Seconds: 6 * DAY });
    assert.deepEqual(sixDays.Scheduler.Purged, []);
    assert.equal((await client.describeKey(new Kms.DescribeKeyRequest({ keyId }))).keyMetadata.keyState, 'PendingDeletion');
    const eightDays = await openkms.control('POST', '/clock/advance', { Seconds: 2 * DAY });
    assert.deepEqual(eightDays.Scheduler.Purged, [keyId]);
    assert.ok(eightDays.OffsetSeconds >= 8 * DAY);
    await assert.rejects(client.describeKey(new Kms.DescribeKeyRequest({ keyId })), { code: 'Forbidden.KeyNotFoundError' });
  });

  test('a throttled KMS is an error the application sees, once per fault', async () => {
    const keyId = await newKey();
    const rule = await openkms.control('POST', '/faults', { Action: 'GenerateDataKey', Preset: 'throttle', Count: 1 });
    assert.equal(rule.Action, 'GenerateDataKey');
    await assert.rejects(seal(client, keyId, Buffer.from('hello')), (err) => {
      assert.equal(err.code, 'Rejected.ThrottlingError');
      assert.equal(err.data.Code, 'Rejected.Throttling');
      assert.match(err.message, /code: 429, /);
      return true;
    });
    const envelope = await seal(client, keyId, Buffer.from('hello')); // the rule fired its one time
    assert.equal((await open(client, envelope)).toString(), 'hello');
  });

  test('a fault added by the command line fails the action it names, until cleared', async () => {
    const keyId = await newKey();
    const envelope = await seal(client, keyId, Buffer.from('hello'));
    await openkms.cli('fault', 'add', '--action', 'Decrypt', '--preset', 'unavailable');
    assert.equal((await openkms.control('GET', '/faults')).Faults.length, 1);
    await assert.rejects(open(client, envelope), { code: 'ServiceUnavailableError' });
    await assert.rejects(open(client, envelope), { code: 'ServiceUnavailableError' }); // no count: every time
    await openkms.cli('fault', 'clear');
    assert.equal((await open(client, envelope)).toString(), 'hello');
  });

  test('a reset empties the server, puts the clock back and clears the faults', async () => {
    const keyId = await newKey();
    await openkms.control('POST', '/clock/advance', { Seconds: 31 * DAY });
    await openkms.control('POST', '/faults', { Action: 'Encrypt', Preset: 'deny' });
    await openkms.control('POST', '/reset');
    assert.equal((await openkms.control('GET', '/clock')).OffsetSeconds, 0);
    assert.deepEqual((await openkms.control('GET', '/faults')).Faults, []);
    await assert.rejects(client.describeKey(new Kms.DescribeKeyRequest({ keyId })), { code: 'Forbidden.KeyNotFoundError' });
    const requests = (await openkms.control('GET', '/requests', undefined, { Limit: 5 })).Requests;
    // the reset emptied the request log: only the DescribeKey since (control calls are not listed)
    assert.deepEqual(
      requests.map((r) => [r.Action, r.HttpStatus, r.Code]),
      [['DescribeKey', 404, 'Forbidden.KeyNotFound']],
    );
  });

  test('the control API refuses a request it cannot verify', async () => {
    const forged = new OpenKmsDev({ endpoint: openkms.endpoint });
    forged.accessKeySecret = 'not-the-secret';
    await assert.rejects(forged.control('GET', '/clock'), (err) => {
      assert.ok(err instanceof ControlError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'SignatureDoesNotMatch');
      return true;
    });
  });
});
