#include "notify_render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "detect.h"
#include "detect_alert.h"
#include "notify_route.h"

#include "banned.h"

#define VALUE_MAX 1000	     /* bytes of one value in the text: command lines can be long */
#define TITLE_VALUE_MAX 120  /* bytes of the rule name or host in a title */
#define SD_ID "mamori@32473" /* 32473: the enterprise number RFC 5612 sets aside for examples */

enum label {
	L_RULE,
	L_SEV,
	L_HOST,
	L_PROC,
	L_PARENT,
	L_CMD,
	L_USER,
	L_FILE,
	L_DEST,
	L_DNS,
	L_IOC,
	L_CORR,
	L_ATTACK,
	L_TIME,
	L_ID,
	L_DESC,
	L_ADVICE,
	L_COUNT
};

struct lang {
	const char *label[L_COUNT];
	const char *sev[5];
	const char *colon, *open, *close, *comma; /* ": " / "：", " (" / "（" ... */
	const char *risk, *group, *list;
};

static const struct lang en = {
    .label = {"Rule", "Severity", "Host", "Process", "Parent process", "Command line", "User",
	      "File", "Destination", "DNS query", "Indicator", "Correlation", "ATT&CK",
	      "Event time (UTC)", "Alert ID", "Description", "Advice"},
    .sev = {"informational", "low", "medium", "high", "critical"},
    .colon = ": ",
    .open = " (",
    .close = ")",
    .comma = ", ",
    .risk = "risk score ",
    .group = "group ",
    .list = "list ",
};

static const struct lang ja = {
    .label = {"ルール", "重大度", "ホスト", "プロセス", "親プロセス", "コマンドライン", "ユーザー",
	      "ファイル", "通信先", "DNS 問い合わせ", "侵害指標（IOC）", "相関", "ATT&CK",
	      "発生日時（UTC）", "アラート ID", "説明", "推奨対応"},
    .sev = {"情報", "低", "中", "高", "緊急"},
    .colon = "：",
    .open = "（",
    .close = "）",
    .comma = "、",
    .risk = "リスクスコア ",
    .group = "グループ ",
    .list = "リスト ",
};

/* ATT&CK tactic names in Japanese, as the Japanese security community writes them. */
static const char *const tactic_ja[][2] = {
    {"Reconnaissance", "偵察"},
    {"Resource Development", "リソース開発"},
    {"Initial Access", "初期アクセス"},
    {"Execution", "実行"},
    {"Persistence", "永続化"},
    {"Privilege Escalation", "権限昇格"},
    {"Defense Evasion", "防御回避"},
    {"Credential Access", "認証情報アクセス"},
    {"Discovery", "探索"},
    {"Lateral Movement", "横展開"},
    {"Collection", "収集"},
    {"Command and Control", "コマンド&コントロール"},
    {"Exfiltration", "持ち出し"},
    {"Impact", "影響"},
};

static bool is_ja(const struct notify_msg *m)
{
	return m->language && !strcmp(m->language, "ja");
}

static const char *str(json_t *a, const char *path)
{
	const char *s = json_string_value(detect_json_path(a, path));

	return s && *s ? s : NULL;
}

static int severity_of(json_t *a)
{
	const char *s = str(a, "rule.severity");
	int v = s ? detect_severity_parse(s) : -1;

	return v < 0 ? 0 : v;
}

/* Bytes of the UTF-8 sequence starting with c (1 for a stray continuation byte). */
static size_t utf8_len(unsigned char c)
{
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* The longest prefix of s of at most max bytes that ends on a character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_len((unsigned char)s[i]);

		if (i + k > max || i + k > n)
			break;
		i += k;
	}
	return i;
}

/* A value from an alert, safe to show: control characters and bidi overrides escaped (a file
 * name must not reorder what a reader sees), URLs defanged so that no mail client makes an
 * attacker's address clickable, cut at max bytes with an ellipsis. */
static int add_value(struct dynbuf *b, const char *s, size_t max)
{
	static const char *const schemes[][2] = {
	    {"http://", "hxxp://"}, {"https://", "hxxps://"}, {"ftp://", "fxp://"}};
	size_t n = strlen(s), end = utf8_cut(s, n, max), i = 0;
	int rc = 0;

	while (!rc && i < end) {
		unsigned char c = (unsigned char)s[i];
		size_t k;

		for (k = 0; k < 3; k++) {
			size_t sl = strlen(schemes[k][0]);

			if (i + sl <= n && !strncasecmp(s + i, schemes[k][0], sl))
				break;
		}
		if (k < 3) {
			rc = dynbuf_adds(b, schemes[k][1]);
			i += strlen(schemes[k][0]);
			continue;
		}
		if (c == '\n')
			rc = dynbuf_adds(b, "\\n");
		else if (c == '\r')
			rc = dynbuf_adds(b, "\\r");
		else if (c == '\t')
			rc = dynbuf_adds(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			rc = dynbuf_printf(b, "\\x%02x", c);
		else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
			 (((unsigned char)s[i + 2] >= 0xaa && (unsigned char)s[i + 2] <= 0xae) ||
			  (unsigned char)s[i + 2] == 0x8e || (unsigned char)s[i + 2] == 0x8f))
			rc = dynbuf_printf(b, "\\u20%02x", (unsigned char)s[i + 2] - 0x80);
		else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x81 &&
			 (unsigned char)s[i + 2] >= 0xa6 && (unsigned char)s[i + 2] <= 0xa9)
			rc = dynbuf_printf(b, "\\u20%02x", (unsigned char)s[i + 2] - 0x80 + 0x40);
		else {
			k = utf8_len(c);
			rc = dynbuf_add(b, s + i, k);
			i += k;
			continue;
		}
		i += c == 0xe2 ? 3 : 1;
	}
	if (!rc && end < n)
		rc = dynbuf_adds(b, "…");
	return rc;
}

static int line(struct dynbuf *b, const struct lang *L, enum label l)
{
	int rc = dynbuf_adds(b, L->label[l]);

	return rc ? rc : dynbuf_adds(b, L->colon);
}

/* "Label: value\n" when the alert has path. */
static int field(struct dynbuf *b, const struct lang *L, enum label l, json_t *a, const char *path)
{
	const char *v = str(a, path);
	int rc;

	if (!v)
		return 0;
	rc = line(b, L, l);
	if (!rc)
		rc = add_value(b, v, VALUE_MAX);
	return rc ? rc : dynbuf_addc(b, '\n');
}

static const char *tactic_name(const char *name, bool in_ja)
{
	for (size_t i = 0; in_ja && i < sizeof(tactic_ja) / sizeof(tactic_ja[0]); i++)
		if (!strcmp(name, tactic_ja[i][0]))
			return tactic_ja[i][1];
	return name;
}

static int attack_line(struct dynbuf *b, const struct lang *L, json_t *a, bool in_ja)
{
	json_t *tec = detect_json_path(a, "threat.technique.id");
	json_t *tac = detect_json_path(a, "threat.tactic.name"), *v;
	int rc = 0;
	size_t i;

	if (!json_array_size(tec) && !json_array_size(tac))
		return 0;
	rc = line(b, L, L_ATTACK);
	json_array_foreach(tec, i, v)
	{
		if (!rc && i)
			rc = dynbuf_adds(b, ", ");
		if (!rc && json_is_string(v))
			rc = add_value(b, json_string_value(v), 32);
	}
	if (!rc && json_array_size(tac))
		rc = dynbuf_adds(b, json_array_size(tec) ? L->open : "");
	json_array_foreach(tac, i, v)
	{
		if (!rc && i)
			rc = dynbuf_adds(b, L->comma);
		if (!rc && json_is_string(v))
			rc = add_value(b, tactic_name(json_string_value(v), in_ja), 64);
	}
	if (!rc && json_array_size(tac) && json_array_size(tec))
		rc = dynbuf_adds(b, L->close);
	return rc ? rc : dynbuf_addc(b, '\n');
}

static int alert_title(const struct notify_msg *m, const struct lang *L, struct dynbuf *t)
{
	json_t *a = m->alert;
	const char *rule = str(a, "rule.name") ? str(a, "rule.name") : str(a, "rule.id");
	const char *host = str(a, "host.name") ? str(a, "host.name") : "?";
	const char *sev = L->sev[severity_of(a)];
	int rc;

	if (!rule)
		rule = "?";
	if (is_ja(m)) {
		/* [Mamori] 重大度 高: web1 で「Download piped to a shell」を検知 */
		rc = dynbuf_printf(t, "[Mamori] 重大度 %s: ", sev);
		if (!rc)
			rc = add_value(t, host, TITLE_VALUE_MAX);
		if (!rc)
			rc = dynbuf_adds(t, " で「");
		if (!rc)
			rc = add_value(t, rule, TITLE_VALUE_MAX);
		return rc ? rc : dynbuf_adds(t, "」を検知");
	}
	/* [Mamori] HIGH: Download piped to a shell on web1 */
	rc = dynbuf_adds(t, "[Mamori] ");
	for (const char *p = sev; !rc && *p; p++)
		rc = dynbuf_addc(t, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
	if (!rc)
		rc = dynbuf_adds(t, ": ");
	if (!rc)
		rc = add_value(t, rule, TITLE_VALUE_MAX);
	if (!rc)
		rc = dynbuf_adds(t, " on ");
	return rc ? rc : add_value(t, host, TITLE_VALUE_MAX);
}

static int alert_text(const struct notify_msg *m, const struct lang *L, struct dynbuf *b)
{
	json_t *a = m->alert, *risk = detect_json_path(a, "risk_score");
	json_t *pid = detect_json_path(a, "process.pid"), *port;
	const char *host = str(a, "host.name") ? str(a, "host.name") : "?";
	const char *id = str(a, "event.id") ? str(a, "event.id") : "?";
	bool in_ja = is_ja(m);
	int rc;

	if (in_ja) {
		rc = dynbuf_adds(b, "ホスト ");
		if (!rc)
			rc = add_value(b, host, TITLE_VALUE_MAX);
		if (!rc)
			rc = dynbuf_adds(b, " で Mamori がアラートを検知しました。\n\n");
	} else {
		rc = dynbuf_adds(b, "Mamori raised an alert on host ");
		if (!rc)
			rc = add_value(b, host, TITLE_VALUE_MAX);
		if (!rc)
			rc = dynbuf_adds(b, ".\n\n");
	}
	if (!rc)
		rc = field(b, L, L_RULE, a, str(a, "rule.name") ? "rule.name" : "rule.id");
	if (!rc)
		rc = line(b, L, L_SEV);
	if (!rc)
		rc = dynbuf_adds(b, L->sev[severity_of(a)]);
	if (!rc && json_is_integer(risk))
		rc = dynbuf_printf(b, "%s%s%lld%s", L->open, L->risk,
				   (long long)json_integer_value(risk), L->close);
	if (!rc)
		rc = dynbuf_addc(b, '\n');
	if (!rc)
		rc = line(b, L, L_HOST);
	if (!rc)
		rc = add_value(b, host, VALUE_MAX);
	if (!rc && m->group) {
		rc = dynbuf_printf(b, "%s%s", L->open, L->group);
		if (!rc)
			rc = add_value(b, m->group, TITLE_VALUE_MAX);
		if (!rc)
			rc = dynbuf_adds(b, L->close);
	}
	if (!rc)
		rc = dynbuf_addc(b, '\n');
	if (!rc && str(a, "process.executable")) {
		rc = line(b, L, L_PROC);
		if (!rc)
			rc = add_value(b, str(a, "process.executable"), VALUE_MAX);
		if (!rc && json_is_integer(pid))
			rc = dynbuf_printf(b, "%sPID %lld%s", L->open,
					   (long long)json_integer_value(pid), L->close);
		if (!rc)
			rc = dynbuf_addc(b, '\n');
	}
	if (!rc)
		rc = field(b, L, L_PARENT, a, "process.parent.executable");
	if (!rc)
		rc = field(b, L, L_CMD, a, "process.command_line");
	if (!rc)
		rc = field(b, L, L_USER, a, "user.name");
	if (!rc)
		rc = field(b, L, L_FILE, a, "file.path");
	if (!rc && str(a, "destination.ip")) {
		bool v6 = strchr(str(a, "destination.ip"), ':');

		port = detect_json_path(a, "destination.port");
		rc = line(b, L, L_DEST);
		if (!rc && v6 && json_is_integer(port))
			rc = dynbuf_addc(b, '[');
		if (!rc)
			rc = add_value(b, str(a, "destination.ip"), 64);
		if (!rc && json_is_integer(port))
			rc = dynbuf_printf(b, "%s:%lld", v6 ? "]" : "",
					   (long long)json_integer_value(port));
		if (!rc)
			rc = dynbuf_addc(b, '\n');
	}
	if (!rc)
		rc = field(b, L, L_DNS, a, "dns.question.name");
	if (!rc && str(a, "mamori.indicator.value")) {
		rc = line(b, L, L_IOC);
		if (!rc)
			rc = add_value(b, str(a, "mamori.indicator.value"), VALUE_MAX);
		if (!rc && str(a, "mamori.indicator.list")) {
			rc = dynbuf_printf(b, "%s%s", L->open, L->list);
			if (!rc)
				rc = add_value(b, str(a, "mamori.indicator.list"), TITLE_VALUE_MAX);
			if (!rc)
				rc = dynbuf_adds(b, L->close);
		}
		if (!rc)
			rc = dynbuf_addc(b, '\n');
	}
	if (!rc && json_is_integer(detect_json_path(a, "mamori.correlation.count"))) {
		rc = line(b, L, L_CORR);
		if (!rc)
			rc = dynbuf_printf(b, "%lld%s",
					   (long long)json_integer_value(
					       detect_json_path(a, "mamori.correlation.count")),
					   in_ja ? " 件" : " events");
		if (!rc && str(a, "mamori.correlation.group")) {
			rc = dynbuf_adds(b, in_ja ? "（" : ", ");
			if (!rc)
				rc = add_value(b, str(a, "mamori.correlation.group"), VALUE_MAX);
			if (!rc && in_ja)
				rc = dynbuf_adds(b, "）");
		}
		if (!rc)
			rc = dynbuf_addc(b, '\n');
	}
	if (!rc)
		rc = attack_line(b, L, a, in_ja);
	if (!rc)
		rc = field(b, L, L_TIME, a, "@timestamp");
	if (!rc)
		rc = field(b, L, L_ID, a, "event.id");
	if (!rc && (str(a, "rule.description") || str(a, "mamori.advice")))
		rc = dynbuf_addc(b, '\n');
	if (!rc)
		rc = field(b, L, L_DESC, a, "rule.description");
	if (!rc)
		rc = field(b, L, L_ADVICE, a, "mamori.advice");
	if (!rc)
		rc = dynbuf_adds(b, in_ja ? "\n詳細の確認: mamori alerts show "
					  : "\nDetails: mamori alerts show ");
	if (!rc)
		rc = add_value(b, id, 64);
	if (!rc)
		rc = dynbuf_adds(b, in_ja ? "\nこのメッセージは Mamori の通知ルート "
					  : "\nSent by Mamori through notification route ");
	if (!rc)
		rc = add_value(b, m->route ? m->route : "?", 64);
	return rc ? rc : dynbuf_adds(b, in_ja ? " から送信されました。\n" : ".\n");
}

static const char *kind_name(const struct notify_msg *m)
{
	const char *k = m->dest_kind ? m->dest_kind : "?";

	if (is_ja(m) && !strcmp(k, "email"))
		return "メール";
	if (is_ja(m) && !strcmp(k, "webhook"))
		return "Webhook";
	return k;
}

static int test_render(const struct notify_msg *m, struct dynbuf *t, struct dynbuf *b)
{
	const char *route = m->route ? m->route : "?";
	int rc;

	if (is_ja(m)) {
		rc = dynbuf_printf(t, "[Mamori] テスト通知（ルート %s）", route);
		if (!rc)
			rc =
			    dynbuf_printf(b,
					  "Mamori からのテスト通知です。通知ルート %s（%s）から送信"
					  "しました。\nこのメッセージが届いていれば、ルートは正しく"
					  "設定されています。対応は不要です。\n",
					  route, kind_name(m));
		return rc;
	}
	rc = dynbuf_printf(t, "[Mamori] Test notification (route %s)", route);
	if (!rc)
		rc = dynbuf_printf(b,
				   "This is a test message from Mamori, sent through notification "
				   "route %s (%s).\nIf you can read it, the route works. No action "
				   "is needed.\n",
				   route, kind_name(m));
	return rc;
}

int notify_render_text(const struct notify_msg *m, struct dynbuf *title, struct dynbuf *text)
{
	const struct lang *L = is_ja(m) ? &ja : &en;
	int rc;

	if (m->kind == NOTIFY_KIND_TEST || !m->alert)
		return test_render(m, title, text);
	rc = alert_title(m, L, title);
	return rc ? rc : alert_text(m, L, text);
}

char *notify_render_webhook(const struct notify_msg *m, const char *title, const char *text)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O?,s:{s:I,s:i}}", "type",
			      m->kind == NOTIFY_KIND_TEST ? "mamori.test" : "mamori.alert", "route",
			      m->route ? m->route : "", "language", is_ja(m) ? "ja" : "en", "title",
			      title, "text", text, "alert", m->alert, "delivery", "id",
			      (json_int_t)m->delivery_id, "attempt", (int)m->attempt);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

void notify_rfc5322_date(int64_t ms, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

static bool printable_ascii(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return false;
	return true;
}

static int add_base64(struct dynbuf *out, const unsigned char *p, size_t n)
{
	int rc = dynbuf_reserve(out, 4 * ((n + 2) / 3) + 1);

	if (rc)
		return rc;
	out->len += (size_t)EVP_EncodeBlock((unsigned char *)out->data + out->len, p, (int)n);
	out->data[out->len] = 0;
	return 0;
}

int notify_rfc2047(struct dynbuf *out, const char *s, size_t used)
{
	size_t n = strlen(s), i = 0;
	int rc = 0;

	if (printable_ascii(s) && used + n <= 76)
		return dynbuf_adds(out, s);
	/* "=?UTF-8?B?" + base64 + "?=" is 12 columns around the base64, which takes 4 per 3
	 * bytes; a word never splits a character. */
	while (!rc && i < n) {
		size_t room = used < 76 - 12 - 4 ? (76 - 12 - used) / 4 * 3 : 3;
		size_t take = utf8_cut(s + i, n - i, room);

		if (!take) /* a character longer than the room left: take it whole */
			take = utf8_len((unsigned char)s[i]);
		if (i)
			rc = dynbuf_adds(out, "\r\n ");
		if (!rc)
			rc = dynbuf_adds(out, "=?UTF-8?B?");
		if (!rc)
			rc = add_base64(out, (const unsigned char *)s + i, take);
		if (!rc)
			rc = dynbuf_adds(out, "?=");
		i += take;
		used = 1;
	}
	return rc;
}

/* A header value from the route's own (validated) settings. */
static int header(struct dynbuf *b, const char *name, const char *value)
{
	return dynbuf_printf(b, "%s: %s\r\n", name, value);
}

int notify_render_email(const struct notify_msg *m, json_t *email, const char *title,
			const char *text, const char *message_id, struct dynbuf *out)
{
	const char *from = json_string_value(json_object_get(email, "from"));
	json_t *to = json_object_get(email, "to"), *v;
	struct dynbuf crlf;
	char date[64];
	size_t i;
	int rc;

	notify_rfc5322_date(m->now_ms, date, sizeof(date));
	rc = header(out, "Date", date);
	if (!rc)
		rc = dynbuf_printf(out, "From: Mamori <%s>\r\nTo: ", from ? from : "");
	json_array_foreach(to, i, v)
	{
		if (!rc && i)
			rc = dynbuf_adds(out, ",\r\n ");
		if (!rc)
			rc = dynbuf_adds(out, json_string_value(v));
	}
	if (!rc)
		rc = dynbuf_adds(out, "\r\nSubject: ");
	if (!rc)
		rc = notify_rfc2047(out, title, 9);
	if (!rc)
		rc = dynbuf_printf(out, "\r\nMessage-ID: <%s>\r\n", message_id);
	if (!rc)
		rc = dynbuf_adds(out, "MIME-Version: 1.0\r\n"
				      "Content-Type: text/plain; charset=UTF-8\r\n"
				      "Content-Transfer-Encoding: base64\r\n"
				      "Auto-Submitted: auto-generated\r\n");
	if (!rc)
		rc = header(out, "X-Mamori-Route", m->route ? m->route : "");
	if (!rc && m->kind == NOTIFY_KIND_ALERT && str(m->alert, "event.id"))
		rc = header(out, "X-Mamori-Alert-Id", str(m->alert, "event.id"));
	if (!rc)
		rc = dynbuf_adds(out, "\r\n");
	if (rc)
		return rc;
	/* The body in canonical form (CRLF line ends), base64 in lines of 76. */
	dynbuf_init(&crlf, NOTIFY_WIRE_MAX);
	for (const char *p = text; !rc && *p; p++)
		rc = *p == '\n' ? dynbuf_add(&crlf, "\r\n", 2) : dynbuf_addc(&crlf, *p);
	for (i = 0; !rc && i < crlf.len; i += 57) {
		size_t k = crlf.len - i < 57 ? crlf.len - i : 57;

		rc = add_base64(out, (const unsigned char *)crlf.data + i, k);
		if (!rc)
			rc = dynbuf_adds(out, "\r\n");
	}
	dynbuf_release(&crlf);
	return rc;
}

int notify_sd_escape(struct dynbuf *out, const char *s, size_t max)
{
	size_t n = strlen(s), end = utf8_cut(s, n, max);
	int rc = 0;

	for (size_t i = 0; !rc && i < end; i++) {
		char c = s[i];

		if (c == '"' || c == '\\' || c == ']')
			rc = dynbuf_addc(out, '\\');
		if (!rc)
			rc = dynbuf_addc(out, (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c);
	}
	return rc;
}

int notify_syslog_pri(int facility, int alert_severity)
{
	/* critical: crit (2), high: err (3), medium: warning (4), low: notice (5), info (6) */
	static const int sev[] = {6, 5, 4, 3, 2};

	if (alert_severity < 0 || alert_severity > 4)
		alert_severity = 0;
	if (facility < 0 || facility > 23)
		facility = 1;
	return facility * 8 + sev[alert_severity];
}

static int sd_param(struct dynbuf *b, const char *name, const char *value, size_t max)
{
	int rc;

	if (!value)
		return 0;
	rc = dynbuf_printf(b, " %s=\"", name);
	if (!rc)
		rc = notify_sd_escape(b, value, max);
	return rc ? rc : dynbuf_addc(b, '"');
}

static char *joined(json_t *arr)
{
	struct dynbuf b;
	json_t *v;
	size_t i;

	dynbuf_init(&b, 4096);
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (dynbuf_adds(&b, b.len ? "," : "") || dynbuf_adds(&b, json_string_value(v)))
			break;
	}
	return b.data; /* NULL when empty */
}

/* HEADER SP STRUCTURED-DATA [SP MSG], values cut at max bytes each. */
static int syslog_line(const struct notify_msg *m, int facility, const char *title, size_t max,
		       size_t cap, struct dynbuf *b)
{
	json_t *a = m->alert;
	bool alert = m->kind == NOTIFY_KIND_ALERT && a;
	time_t t = (time_t)(m->now_ms / 1000);
	char host[256], num[24], *tec = NULL, *tac = NULL;
	const char *h = m->hostname ? m->hostname : "";
	size_t k = 0, room;
	struct tm tm;
	int rc;

	for (; *h && k < sizeof(host) - 1; h++)
		host[k++] = *h > ' ' && *h <= '~' ? *h : '-';
	host[k] = 0;
	gmtime_r(&t, &tm);
	rc = dynbuf_printf(b, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s mamori - %s [" SD_ID,
			   notify_syslog_pri(facility, alert ? severity_of(a) : 0),
			   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			   tm.tm_sec, (int)(m->now_ms % 1000), k ? host : "-",
			   alert ? "ALERT" : "TEST");
	if (!rc)
		rc = sd_param(b, "route", m->route, max);
	if (!rc && !alert)
		rc = sd_param(b, "test", "true", max);
	if (alert) {
		json_t *risk = detect_json_path(a, "risk_score");
		json_t *pid = detect_json_path(a, "process.pid");

		tec = joined(detect_json_path(a, "threat.technique.id"));
		tac = joined(detect_json_path(a, "threat.tactic.name"));
		if (!rc)
			rc = sd_param(b, "id", str(a, "event.id"), max);
		if (!rc)
			rc = sd_param(b, "rule", str(a, "rule.name"), max);
		if (!rc)
			rc = sd_param(b, "rule_id", str(a, "rule.id"), max);
		if (!rc)
			rc = sd_param(b, "severity", detect_severity_name(severity_of(a)), max);
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(risk));
		if (!rc && json_is_integer(risk))
			rc = sd_param(b, "risk_score", num, max);
		if (!rc)
			rc = sd_param(b, "host", str(a, "host.name"), max);
		if (!rc)
			rc = sd_param(b, "group", m->group, max);
		if (!rc)
			rc = sd_param(b, "technique", tec, max);
		if (!rc)
			rc = sd_param(b, "tactic", tac, max);
		if (!rc)
			rc = sd_param(b, "process", str(a, "process.executable"), max);
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(pid));
		if (!rc && json_is_integer(pid))
			rc = sd_param(b, "pid", num, max);
		if (!rc)
			rc = sd_param(b, "user", str(a, "user.name"), max);
		if (!rc)
			rc = sd_param(b, "command_line", str(a, "process.command_line"), max * 2);
		free(tec);
		free(tac);
	}
	if (!rc)
		rc = dynbuf_adds(b, "]");
	if (rc || b->len + 5 >= cap)
		return rc ? rc : -E2BIG;
	/* MSG: the title; UTF-8 is announced with a BOM (RFC 5424 6.4). */
	room = cap - b->len - 1;
	if (!printable_ascii(title)) {
		rc = dynbuf_adds(b, " \xef\xbb\xbf");
		room = room > 4 ? room - 4 : 0;
	} else {
		rc = dynbuf_addc(b, ' ');
	}
	return rc ? rc : dynbuf_add(b, title, utf8_cut(title, strlen(title), room));
}

int notify_render_syslog(const struct notify_msg *m, json_t *syslog, const char *title,
			 struct dynbuf *out)
{
	const char *tr = json_string_value(json_object_get(syslog, "transport"));
	bool tcp = tr && !strcmp(tr, "tcp");
	size_t cap = tcp ? NOTIFY_SYSLOG_TCP_MAX : NOTIFY_SYSLOG_UDP_MAX;
	int facility = notify_facility_code(json_string_value(json_object_get(syslog, "facility")));
	struct dynbuf b;
	int rc = -E2BIG;

	if (facility < 0)
		facility = 16;
	/* Shorter values until the line fits the transport. */
	for (size_t max = 256; rc == -E2BIG && max >= 16; max /= 4) {
		dynbuf_init(&b, cap);
		rc = syslog_line(m, facility, title, max, cap, &b);
		if (rc == -ENOSPC)
			rc = -E2BIG;
		if (!rc)
			rc = tcp ? dynbuf_printf(out, "%zu ", b.len) : 0;
		if (!rc)
			rc = dynbuf_add(out, b.data, b.len);
		dynbuf_release(&b);
	}
	return rc;
}
