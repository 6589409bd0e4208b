/* Sigma field names (Sysmon style: Image, CommandLine, TargetFilename...) to the ECS names Mamori
 * events carry, per logsource category, as a pySigma processing pipeline would do. The table is
 * documented in docs/sigma-fields.md; names it does not know pass through unchanged, so rules may
 * also use ECS names directly, and auditd rules keep the raw audit keys. */
#include "sigma_int.h"

#include <string.h>
#include <strings.h>

struct fieldmap {
	const char *category; /* NULL: any category */
	const char *sigma;
	const char *ecs;
};

static const struct fieldmap MAP[] = {
	/* process_creation */
	{"process_creation", "Image", "process.executable"},
	{"process_creation", "OriginalFileName", "process.name"},
	{"process_creation", "CommandLine", "process.command_line"},
	{"process_creation", "CurrentDirectory", "process.working_directory"},
	{"process_creation", "ProcessId", "process.pid"},
	{"process_creation", "ProcessGuid", "process.entity_id"},
	{"process_creation", "ParentImage", "process.parent.executable"},
	{"process_creation", "ParentCommandLine", "process.parent.command_line"},
	{"process_creation", "ParentProcessId", "process.parent.pid"},
	{"process_creation", "ParentProcessGuid", "process.parent.entity_id"},
	{"process_creation", "User", "user.name"},
	{"process_creation", "LogonId", "user.audit.id"},
	{"process_creation", "Hashes", "process.hash.sha256"},
	{"process_creation", "sha256", "process.hash.sha256"},
	{"process_creation", "IntegrityLevel", "process.user.id"},
	/* file events */
	{"file_event", "TargetFilename", "file.path"},
	{"file_event", "SourceFilename", "file.Ext.original.path"},
	{"file_create", "TargetFilename", "file.path"},
	{"file_change", "TargetFilename", "file.path"},
	{"file_delete", "TargetFilename", "file.path"},
	{"file_rename", "TargetFilename", "file.path"},
	{"file_rename", "SourceFilename", "file.Ext.original.path"},
	{"file_access", "TargetFilename", "file.path"},
	/* network */
	{"network_connection", "DestinationIp", "destination.ip"},
	{"network_connection", "DestinationPort", "destination.port"},
	{"network_connection", "DestinationHostname", "destination.domain"},
	{"network_connection", "SourceIp", "source.ip"},
	{"network_connection", "SourcePort", "source.port"},
	{"network_connection", "SourceHostname", "source.domain"},
	{"network_connection", "Protocol", "network.transport"},
	{"network_connection", "Initiated", "network.initiated"},
	/* dns */
	{"dns_query", "QueryName", "dns.question.name"},
	{"dns_query", "QueryType", "dns.question.type"},
	{"dns_query", "QueryResults", "dns.answers.data"},
	{"dns", "query", "dns.question.name"},
	{"dns", "QueryName", "dns.question.name"},
	{"dns", "record_type", "dns.question.type"},
	{"dns", "answer", "dns.answers.data"},
	/* fields every category shares */
	{NULL, "Image", "process.executable"},
	{NULL, "CommandLine", "process.command_line"},
	{NULL, "ParentImage", "process.parent.executable"},
	{NULL, "ParentCommandLine", "process.parent.command_line"},
	{NULL, "ProcessId", "process.pid"},
	{NULL, "User", "user.name"},
	{NULL, "Computer", "host.name"},
	{NULL, "Hostname", "host.name"},
	{NULL, "TargetFilename", "file.path"},
	{NULL, "DestinationIp", "destination.ip"},
	{NULL, "DestinationPort", "destination.port"},
	{NULL, "DestinationHostname", "destination.domain"},
	{NULL, "SourceIp", "source.ip"},
	{NULL, "SourcePort", "source.port"},
	{NULL, "QueryName", "dns.question.name"},
};

const char *sigma_field_to_ecs(const struct logsource *ls, const char *name, size_t len,
			       size_t *outlen, bool *mapped)
{
	*mapped = false;
	*outlen = len;
	/* auditd rules name raw audit keys (type, a0, exe, SYSCALL...): keep them. */
	if (ls && ls->service && strcasecmp(ls->service, "auditd") == 0)
		return name;
	const char *cat = ls ? ls->category : NULL;
	const struct fieldmap *generic = NULL;
	for (size_t i = 0; i < sizeof(MAP) / sizeof(MAP[0]); i++) {
		const struct fieldmap *m = &MAP[i];
		if (strlen(m->sigma) != len || memcmp(m->sigma, name, len) != 0)
			continue;
		if (m->category && cat && strcasecmp(m->category, cat) == 0) {
			generic = m;
			break;
		}
		if (!m->category && !generic)
			generic = m;
	}
	if (!generic)
		return name;
	*mapped = true;
	*outlen = strlen(generic->ecs);
	return generic->ecs;
}
