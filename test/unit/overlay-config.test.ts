import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;

async function load(yaml: string): Promise<ConfigError | undefined> {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, `istio: { clusterEnv: "", sidecarEnv: "" }\n${yaml}`);
  try {
    await loadConfig({ path, mustExist: true });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

const base = (peers: string, extra = ''): string => `overlay:
  enabled: true
  network: 10.234.0.0/16
  subnet: 10.234.3.0/24
${extra}  peers:
${peers}`;

void describe('overlay config checks', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mna-ovcfg-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void test('the seed table is valid', async () => {
    const err = await load(
      base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }
    - { subnet: 10.234.1.0/24, publicIP: 192.168.0.73, vtepMAC: "7a:b4:48:5f:69:56" }
    - { subnet: 10.234.2.0/24, publicIP: 192.168.0.71, vtepMAC: "f6:cb:f7:55:bc:cd" }
`),
    );
    assert.equal(err, undefined);
  });

  void test('overlapping peer subnets name both entries and the line', async () => {
    const err = await load(
      base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }
    - { subnet: 10.234.0.0/23, publicIP: 192.168.0.73, vtepMAC: "7a:b4:48:5f:69:56" }
`),
    );
    assert.match(err?.message ?? '', /:8:17: overlay\.peers\.1\.subnet: 10\.234\.0\.0\/23 overlaps 10\.234\.0\.0\/24, claimed earlier by overlay\.peers\[0\]/);
  });

  void test('a subnet outside network', async () => {
    const err = await load(base(`    - { subnet: 10.235.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }\n`));
    assert.match(err?.message ?? '', /overlay\.peers\.0\.subnet: 10\.235\.0\.0\/24 is outside the overlay network 10\.234\.0\.0\/16/);
    const own = await load('overlay: { enabled: true, network: 10.234.0.0/16, subnet: 10.9.3.0/24 }\n');
    assert.match(own?.message ?? '', /overlay\.subnet: 10\.9\.3\.0\/24 is outside overlay\.network/);
  });

  void test('a peer subnet equal to our own', async () => {
    const err = await load(base(`    - { subnet: 10.234.3.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }\n`));
    assert.match(err?.message ?? '', /overlay\.peers\.0\.subnet: 10\.234\.3\.0\/24 is this host's own subnet/);
  });

  void test('bad MACs: malformed, multicast, all-zero, duplicate', async () => {
    const malformed = await load(base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3" }\n`));
    assert.match(malformed?.message ?? '', /overlay\.peers\.0\.vtepMAC: not a MAC address; write e\.g\. 5a:09:44:c7:a3:fb/);
    const multicast = await load(base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "01:00:5e:00:00:01" }\n`));
    assert.match(multicast?.message ?? '', /is a multicast MAC/);
    const zero = await load(base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "00:00:00:00:00:00" }\n`));
    assert.match(zero?.message ?? '', /all-zero MAC/);
    const dup = await load(
      base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }
    - { subnet: 10.234.1.0/24, publicIP: 192.168.0.73, vtepMAC: "5A:09:44:C7:A3:FB" }
`),
    );
    assert.match(dup?.message ?? '', /overlay\.peers\.1\.vtepMAC: 5a:09:44:c7:a3:fb is already claimed by overlay\.peers\[0\] for 10\.234\.0\.0\/24/);
  });

  void test("the run-time gate's reasons: public IP classes and claims, broadcast MAC, the VM's own subnet overlapped", async () => {
    const ip = async (publicIP: string): Promise<string> => (await load(base(`    - { subnet: 10.234.0.0/24, publicIP: ${publicIP}, vtepMAC: "5a:09:44:c7:a3:fb" }\n`)))?.message ?? '';
    assert.match(await ip('127.0.0.1'), /overlay\.peers\.0\.publicIP: 127\.0\.0\.1 is a loopback address/);
    assert.match(await ip('169.254.3.4'), /overlay\.peers\.0\.publicIP: 169\.254\.3\.4 is a link-local address/);
    assert.match(await ip('224.0.0.5'), /is a multicast address/);
    assert.match(await ip('0.1.2.3'), /is in 0\.0\.0\.0\/8/);
    assert.match(await ip('255.255.255.255'), /is the broadcast address/);
    assert.match(await ip('10.234.9.9'), /overlay\.peers\.0\.publicIP: 10\.234\.9\.9 is inside the overlay/);
    assert.match(await ip('fd00::1'), /overlay\.peers\.0\.publicIP: fd00::1 is not an IPv4 address/);
    const sameIp = await load(
      base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }
    - { subnet: 10.234.1.0/24, publicIP: 192.168.0.72, vtepMAC: "7a:b4:48:5f:69:56" }
`),
    );
    assert.match(sameIp?.message ?? '', /overlay\.peers\.1\.publicIP: 192\.168\.0\.72 is already claimed by overlay\.peers\[0\]/);
    const broadcast = await load(base(`    - { subnet: 10.234.0.0/24, publicIP: 192.168.0.72, vtepMAC: "ff:ff:ff:ff:ff:ff" }\n`));
    assert.match(broadcast?.message ?? '', /overlay\.peers\.0\.vtepMAC: ff:ff:ff:ff:ff:ff is the broadcast MAC/);
    const wide = await load(base(`    - { subnet: 10.234.0.0/22, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }\n`));
    assert.match(wide?.message ?? '', /overlay\.peers\.0\.subnet: 10\.234\.0\.0\/22 overlaps this host's subnet 10\.234\.3\.0\/24/);
  });

  void test('a subnet that is not a network address, and a missing own subnet', async () => {
    const err = await load(base(`    - { subnet: 10.234.0.5/24, publicIP: 192.168.0.72, vtepMAC: "5a:09:44:c7:a3:fb" }\n`));
    assert.match(err?.message ?? '', /10\.234\.0\.5\/24 is not a network address; write 10\.234\.0\.0\/24/);
    const missing = await load('overlay: { enabled: true }\n');
    assert.match(missing?.message ?? '', /overlay\.subnet: required when overlay is enabled/);
  });
});
