/** kubeconfig parsing and resolution, and the `kubernetes:` schema: pure, no server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError, ConfigError, ErrorCode } from '../../src/errors.js';
import { kubernetesDefaults, kubernetesSchema } from '../../src/kube/config-schema.js';
import { parseKubeconfig } from '../../src/kube/kubeconfig.js';
import { createTokenSource } from '../../src/kube/token-source.js';

const FILE = '/etc/mesh-node-agent/kube/vm.kubeconfig';

function kubeconfig(user: string, cluster = 'server: https://10.0.0.10:6443/\n      certificate-authority: pki/ca.crt'): string {
  return `apiVersion: v1
kind: Config
current-context: vm
clusters:
  - name: prod
    cluster:
      ${cluster}
users:
  - name: vm
    user:
      ${user}
contexts:
  - name: vm
    context: {cluster: prod, user: vm, namespace: mesh}
  - name: other
    context: {cluster: prod}
`;
}

/** The message of what parseKubeconfig throws, checked to be a positioned MNA_KUBE_CONFIG_INVALID. */
function problem(text: string, context = ''): string {
  try {
    parseKubeconfig(text, FILE, context);
  } catch (err) {
    assert.ok(AgentError.is(err) && err.code === ErrorCode.KubeConfigInvalid, String(err));
    return err.message;
  }
  assert.fail('expected an error');
}

test('a kubeconfig resolves to server, CA, token and namespace; relative paths against its directory', () => {
  const t = parseKubeconfig(kubeconfig('tokenFile: ../tokens/vm'), FILE);
  assert.equal(t.server, 'https://10.0.0.10:6443');
  assert.deepEqual(t.ca?.kind === 'file' && t.ca.path, '/etc/mesh-node-agent/kube/pki/ca.crt');
  assert.deepEqual(t.token?.kind === 'file' && t.token.path, '/etc/mesh-node-agent/tokens/vm');
  assert.equal(t.namespace, 'mesh');
  assert.equal(t.description, `kubeconfig ${FILE} (context vm)`);
  assert.deepEqual(t.token?.origin, { file: FILE, line: 12, col: 18, key: 'users["vm"].user.tokenFile' });

  const data = parseKubeconfig(kubeconfig('{token: abc.def, client-certificate-data: Y2VydA==, client-key: /k.pem}', 'server: https://k.example\n      certificate-authority: /ignored\n      certificate-authority-data: "Y2E="\n      tls-server-name: kubernetes.default.svc'), FILE);
  assert.equal(data.ca?.kind === 'data' && data.ca.data.toString(), 'ca', '-data wins over the path, as in kubectl');
  assert.equal(data.tlsServerName, 'kubernetes.default.svc');
  assert.equal(data.token?.kind === 'static' && data.token.value, 'abc.def');
  assert.equal(data.clientCert?.cert.kind === 'data' && data.clientCert.cert.data.toString(), 'cert');
  assert.equal(data.clientCert?.key.kind === 'file' && data.clientCert.key.path, '/k.pem');

  const other = parseKubeconfig(kubeconfig('token: x'), FILE, 'other');
  assert.equal(other.token, undefined, 'a context without a user is anonymous');
  assert.equal(other.description, `kubeconfig ${FILE} (context other)`);
});

test('unsupported or unsafe kubeconfigs are refused naming file, line, key and what to do', () => {
  assert.match(problem(kubeconfig('exec: {command: aws, args: [eks, get-token]}')), new RegExp(`^${FILE}:12:13: users\\["vm"\\]\\.user\\.exec: exec credential plugins are not supported .*kubectl create token`));
  assert.match(problem(kubeconfig('auth-provider: {name: gcp}')), /users\["vm"\]\.user\.auth-provider: auth-provider plugins are not supported/);
  assert.match(problem(kubeconfig('{username: admin, password: secret}')), /user\.username: basic authentication is not supported/);
  assert.match(problem(kubeconfig('{token: t, as: system:admin}')), /user\.as: impersonation is not supported/);
  assert.match(problem(kubeconfig('client-certificate: c.pem')), /users\["vm"\]\.user\.client-key: is missing: a client-certificate needs its client-key/);
  assert.match(problem(kubeconfig('client-key-data: "a2V5"')), /user\.client-certificate: is missing/);
  assert.match(problem(kubeconfig('client-key-data: "not base64!"\n      client-certificate: c')), /user\.client-key-data: is not base64/);
  assert.match(problem(kubeconfig('token: 12345')), /users\["vm"\]\.user\.token: must be a string \(quote it\)/);
  assert.match(problem(kubeconfig('token: t', 'server: https://10.0.0.10:6443\n      insecure-skip-tls-verify: true')), new RegExp(`^${FILE}:8:33: clusters\\["prod"\\]\\.cluster\\.insecure-skip-tls-verify: turns off verification.*set certificate-authority`));
  assert.match(problem(kubeconfig('token: t', 'server: http://10.0.0.10:8080')), /clusters\["prod"\]\.cluster\.server: "http:\/\/10\.0\.0\.10:8080" is not https:\/\//);
  assert.match(problem(kubeconfig('token: t', 'certificate-authority: ca.crt')), /clusters\["prod"\]\.cluster\.server: is missing; write the API server URL/);
  assert.match(problem(kubeconfig('token: t', 'server: https://a\n      proxy-url: http://proxy:3128')), /cluster\.proxy-url: proxies are not supported/);
  assert.match(problem(kubeconfig('token: t'), 'nope'), /^kubernetes\.context: no context named "nope" in contexts \(it has: vm, other\)/);
  assert.match(problem(kubeconfig('token: t').replace('current-context: vm', 'current-context: gone')), new RegExp(`^${FILE}:3:18: current-context: no context named "gone"`));
  assert.match(problem(kubeconfig('token: t').replace('current-context: vm\n', '')), /current-context: is not set; set current-context in the kubeconfig or kubernetes\.context/);
  assert.match(problem(kubeconfig('token: t').replace('{cluster: prod, user: vm', '{cluster: staging, user: vm')), /contexts\["vm"\]\.context\.cluster: no cluster named "staging" in clusters \(it has: prod\)/);
  assert.match(problem(kubeconfig('token: t').replace('- name: other', '- name: vm')), /contexts\["vm"\]: two contexts are named "vm"; rename one/);
  assert.match(problem('kind: Pod\n'), /kind: is "Pod"; a kubeconfig has kind: Config/);
  assert.match(problem('clusters: [\n'), new RegExp(`^${FILE}:\\d+:\\d+: \\(root\\): `));
  const err = ((): unknown => {
    try {
      return parseKubeconfig(kubeconfig('token: "has space"'), FILE);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof ConfigError && err.issues[0]?.key === 'users["vm"].user.token', 'a positioned ConfigError, as check-config renders');
});

test('the kubernetes: section: defaults, exclusive modes, https only', () => {
  const parse = (v: Record<string, unknown>): string[] => {
    const r = kubernetesSchema.safeParse({ ...kubernetesDefaults(), ...v });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.deepEqual(kubernetesSchema.parse(kubernetesDefaults()), { kubeconfig: '', context: '', server: '', caFile: '', tokenFile: '', timeout: 30_000 });
  assert.deepEqual(parse({ kubeconfig: '/k', context: 'vm' }), []);
  assert.deepEqual(parse({ server: 'https://10.0.0.10:6443', caFile: '/ca', tokenFile: '/t', timeout: '5s' }), []);
  assert.deepEqual(parse({ kubeconfig: '/k', server: 'https://a' }), ['server: set either kubernetes.kubeconfig or kubernetes.server, not both']);
  assert.deepEqual(parse({ tokenFile: '/t' }), ['server: caFile and tokenFile go with a server; set kubernetes.server, e.g. https://10.0.0.10:6443']);
  assert.match(parse({ kubeconfig: '/k', caFile: '/ca' })[0] ?? '', /^caFile: the kubeconfig names the CA/);
  assert.match(parse({ context: 'x' })[0] ?? '', /^context: a context is chosen from a kubeconfig/);
  assert.match(parse({ server: 'http://a:8080' })[0] ?? '', /^server: "http:\/\/a:8080" is not https:\/\//);
  assert.match(parse({ server: 'a:6443' })[0] ?? '', /^server: .*(not a URL|not https)/);
  assert.match(parse({ server: 'https://u:p@a' })[0] ?? '', /credentials in the URL/);
  assert.match(parse({ timeout: 'soon' })[0] ?? '', /^timeout: "soon" is not a duration/);
  assert.match(parse({ timeout: '0s' })[0] ?? '', /^timeout: must be between 1s and 10m/);
  assert.match(parse({ extra: 1 })[0] ?? '', /extra|Unrecognized/);
});

test('a token file is re-read after its age, keeps the last good token, and refuses unsafe content', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mna-kube-token-'));
  try {
    const path = join(dir, 'token');
    const origin = { key: 'kubernetes.tokenFile' };
    let now = 1_000_000;
    const source = createTokenSource({ kind: 'file', path, origin }, { maxAgeMs: 60_000, now: () => now });
    await assert.rejects(source.token(), /^AgentError: kubernetes\.tokenFile: cannot use token file .*\/token: .*ENOENT.*must name a readable file/);
    await writeFile(path, 'first.token\n');
    assert.equal(await source.token(), 'first.token');
    await writeFile(path, 'second.token');
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    assert.equal(await source.token(), 'first.token', 'within its age the copy is used');
    now += 60_000;
    assert.equal(await source.token(), 'second.token', 'after its age the file is read again');
    await writeFile(path, 'bad token with spaces');
    await utimes(path, new Date(), new Date(Date.now() + 10_000));
    source.invalidate();
    assert.equal(await source.token(), 'second.token', 'unusable content keeps the last good token');
    await rm(path);
    now += 120_000;
    assert.equal(await source.token(), 'second.token', 'a missing file (a rewrite in progress) keeps it too');

    const fresh = createTokenSource({ kind: 'file', path: join(dir, 'evil'), origin });
    await writeFile(join(dir, 'evil'), 'abc\r\nX-Injected: 1');
    await assert.rejects(fresh.token(), /the file holds characters a bearer token cannot have/);
    assert.throws(() => createTokenSource({ kind: 'static', value: 'a b', origin: { key: 'users["vm"].user.token' } }), /^AgentError: users\["vm"\]\.user\.token: the token holds characters/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
