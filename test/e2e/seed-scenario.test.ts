/**
 * The demo's topology as the end-to-end test: every line of the report must hold, with the
 * observed values compared against what the scenario configured.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_NODES } from '../helpers/seed-topology.js';
import { EXPECTED_NAMES, EXPECTED_SPIFFE, runScenario, type Check, type Scenario } from './scenario.js';

describe('seed scenario end to end', () => {
  let scenario: Scenario;
  const check = (name: string): Check => {
    const found = scenario.checks.find((c) => c.name === name);
    assert.ok(found, `no check named ${name}`);
    return found;
  };

  before(async () => {
    scenario = await runScenario(() => undefined);
  });
  after(async () => {
    await scenario?.teardown();
  });

  test('the report has exactly the expected lines', () => {
    assert.deepEqual(scenario.checks.map((c) => c.name), [
      'certificate issued',
      'overlay peers programmed',
      'VM → pod ping',
      'pod → VM ping',
      'names resolved',
      'capture rules installed',
      'mesh-node-agent status',
    ]);
  });

  test('certificate issued for the VM identity and verified by openssl', () => {
    const c = check('certificate issued');
    assert.equal(c.observed.spiffeId, EXPECTED_SPIFFE);
    assert.equal(c.observed.opensslVerify, 0);
    assert.ok(Date.parse(String(c.observed.notAfter)) > Date.now());
    assert.ok(c.ok, c.detail);
  });

  test('overlay routes to every node subnet', () => {
    const c = check('overlay peers programmed');
    assert.deepEqual(c.observed.subnets, SEED_NODES.map((n) => n.subnet).sort());
    assert.ok(c.ok);
  });

  test('VM reaches every pod and every pod reaches the VM over VXLAN', () => {
    for (const name of ['VM → pod ping', 'pod → VM ping']) {
      const c = check(name);
      assert.deepEqual(Object.keys(c.observed).sort(), SEED_NODES.map((n) => n.podIP).sort());
      assert.ok(Object.values(c.observed).every((v) => v === true), `${name}: ${c.detail}`);
    }
  });

  test('cluster, static and .global names resolve through the agent', () => {
    const c = check('names resolved');
    assert.deepEqual(c.observed, EXPECTED_NAMES);
  });

  test('capture rules installed and the status CLI reports ready', () => {
    const capture = check('capture rules installed');
    assert.ok((capture.observed.chains as string[]).includes('ISTIO_OUTPUT'), capture.detail);
    assert.ok(capture.ok, capture.detail);
    assert.equal(check('mesh-node-agent status').observed.code, 0);
    assert.match(scenario.statusText, /READY/);
  });
});
