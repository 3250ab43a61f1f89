#!/usr/bin/env node
/**
 * Writes mesh-node-agent(8) from the CLI's own --help texts (so the page cannot drift from the
 * code), plus the files, config and systemd sections.
 * Usage: node scripts/man-page.mjs BUNDLE OUT   (BUNDLE: dist/main.mjs, run with this node)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [bundle, outPath] = process.argv.slice(2);
if (bundle === undefined || outPath === undefined) {
  console.error('usage: node scripts/man-page.mjs BUNDLE OUT');
  process.exit(64);
}
const help = (...args) => execFileSync(process.execPath, [bundle, ...args], { encoding: 'utf8' });
const version = readFileSync(join(dirname(bundle), 'VERSION'), 'utf8').trim();

/** roff-escapes a preformatted block: backslashes, and leading dots/quotes that roff would eat. */
const pre = (text) =>
  ['.nf', ...text.trimEnd().split('\n').map((line) => line.replace(/\\/g, '\\e').replace(/^([.'])/, '\\&$1')), '.fi'].join('\n');

const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? Date.now() / 1000) * 1000).toISOString().slice(0, 10);
const page = `.TH MESH-NODE-AGENT 8 "${date}" "mesh-node-agent ${version}" "System Administration"
.SH NAME
mesh-node-agent \\- join this Linux VM to a Kubernetes and Istio service mesh
.SH SYNOPSIS
.B mesh-node-agent run
.RB [ \\-\\-config
.IR PATH ]
.RB [ \\-\\-cleanup\\-only ]
.br
.B mesh-node-agent status
.RB [ \\-\\-addr
.IR HOST:PORT ]
.RB [ \\-\\-json ]
.br
.B mesh-node-agent check-config
.RB [ \\-\\-config
.IR PATH ]
.RB [ \\-\\-json ]
.br
.B mesh-node-agent leave
.RB [ \\-\\-config
.IR PATH ]
.br
.B mesh-node-agent version
.SH DESCRIPTION
${pre(help('--help'))}
.SH COMMANDS
.SS run
${pre(help('run', '--help'))}
.SS status
${pre(help('status', '--help'))}
.SS check-config
${pre(help('check-config', '--help'))}
.SS leave
${pre(help('leave', '--help'))}
.SS version
${pre(help('version', '--help'))}
.SH FILES
.TP
.I /etc/mesh-node-agent/config.yaml
The configuration (a conffile: upgrades keep local changes). Every key is optional and documented
in the shipped file. Run
.B mesh-node-agent check-config
after editing it, then
.BR "systemctl reload mesh-node-agent" .
.TP
.I /var/lib/istio/envoy/cluster.env\\fR, \\fI/var/lib/istio/envoy/sidecar.env
Istio's env files; their values fill in what config.yaml leaves unset.
.TP
.I /var/lib/mesh-node-agent/
State: the VTEP MAC address, the overlay lease, this VM's Node identity and podCIDR, the saved resolv.conf.
.TP
.I /etc/certs/
The issued identity (cert-chain.pem, key.pem, root-cert.pem): root's, except key.pem, which istio-proxy owns.
.TP
.I /usr/lib/mesh-node-agent/
The program: main.mjs, the Node.js runtime it runs on (node) and the netlink addon.
.SH SYSTEMD
The package installs and enables
.I mesh-node-agent.service
but does not start it: configure first, then
.BR "systemctl start mesh-node-agent" .
The unit is Type=notify (ready once the status endpoint listens and every enabled controller
started), reloads with SIGHUP, and on stop removes the capture rules
.RB ( "run \\-\\-cleanup\\-only" ).
Logs go to the journal:
.BR "journalctl \\-u mesh-node-agent" .
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
.BR iptables (8)
`;
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, page);
