/**
 * The demo's `--kubernetes` variant as an end-to-end test: the seeds' topology with flannel's kube
 * subnet manager (a kube-apiserver holding the nodes' Nodes, a flanneld stand-in per node following
 * them) instead of its etcd registry, and the seed's ServiceEntries in the cluster. Every line of
 * the report must hold.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_NODES, SEED_VM } from '../helpers/seed-topology.js';
import { EXPECTED_NAMES, runScenario, type Check, type Scenario } from './scenario.js';

describe('seed scenario end to end, flannel with --kube-subnet-mgr', () => {
  let scenario: Scenario;
  const check = (name: string): Check => {
    const found = scenario.checks.find((c) => c.name === name);
    assert.ok(found, `no check named ${name}`);
    return found;
  };

  before(async () => {
    scenario = await runScenario(() => undefined, { kubernetes: true });
  });
  after(async () => {
    await scenario?.teardown();
  });

  test('every line of the report holds', () => {
    assert.deepEqual(scenario.checks.map((c) => c.name), [
      'certificate issued',
      'Node registered',
      'overlay peers programmed',
      'VM → pod ping',
      'pod → VM ping',
      'names resolved',
      'capture rules installed',
      'mesh-node-agent status',
    ]);
    for (const c of scenario.checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  });

  test("the VM's Node: the seed's subnet as podCIDR, flannel's annotations byte for byte", () => {
    const c = check('Node registered');
    assert.equal(c.observed.podCIDR, SEED_VM.subnet);
    assert.deepEqual(c.observed.annotations, c.observed.expected);
  });

  test('every node programmed from its Node; .global names from the cluster\'s ServiceEntries', () => {
    assert.deepEqual(check('overlay peers programmed').observed.subnets, SEED_NODES.map((n) => n.subnet).sort());
    assert.deepEqual(check('names resolved').observed, EXPECTED_NAMES);
  });
});
