/* The ECS event every source produces and every consumer reads: a fixed-size struct (no per-event
 * allocation) described field by field in EVENT_FIELDS, so the JSON codec and later the detection
 * engine look fields up by their ECS name instead of hand-written code per field. */
#ifndef MAMORI_EVENT_H
#define MAMORI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_ENTITY_ID_LEN 33 /* 32 hex digits + NUL */
#define EVENT_PATH_LEN 1024
#define EVENT_NAME_LEN 256
#define EVENT_ARGS_LEN 4096
#define EVENT_CMDLINE_LEN 4096
#define EVENT_PARENT_CMDLINE_LEN 1024
#define EVENT_IP_LEN 46
#define EVENT_SHORT_LEN 64
#define EVENT_TAGS_LEN 128

/* Every action Mamori emits, with its ECS category, type and kind (see event.c). */
#define EVENT_ACTIONS(X)                                                                           \
	X(EXEC, "exec")                                                                            \
	X(FORK, "fork")                                                                            \
	X(END, "end")                                                                              \
	X(UID_CHANGE, "uid_change")                                                                \
	X(GID_CHANGE, "gid_change")                                                                \
	X(PTRACE, "ptrace")                                                                        \
	X(MEMFD_CREATE, "memfd_create")                                                            \
	X(LOAD_MODULE, "load_module")                                                              \
	X(BPF_LOAD, "bpf_load")                                                                    \
	X(CREATION, "creation")                                                                    \
	X(MODIFICATION, "modification")                                                            \
	X(RENAME, "rename")                                                                        \
	X(DELETION, "deletion")                                                                    \
	X(ATTRIBUTES_MODIFICATION, "attributes_modification")                                      \
	X(CONNECTION_ATTEMPTED, "connection_attempted")                                            \
	X(CONNECTION_ACCEPTED, "connection_accepted")                                              \
	X(DISCONNECT_RECEIVED, "disconnect_received")                                              \
	X(LISTEN, "listen")                                                                        \
	X(DNS_QUERY, "dns_query")                                                                  \
	X(AGENT_DROPS, "agent_drops")

enum event_action {
	EVENT_ACTION_NONE = 0,
#define X(id, name) EVENT_ACTION_##id,
	EVENT_ACTIONS(X)
#undef X
		EVENT_ACTION_COUNT
};

enum event_type {
	EVT_STR,     /* char[] inline, present when non-empty */
	EVT_STR_U32, /* uint32_t written as a JSON string (ECS keyword ids: user.id) */
	EVT_MODE,    /* uint32_t file mode written as an octal string */
	EVT_U32,
	EVT_I32,
	EVT_U64,
	EVT_BOOL,
	EVT_TIME,   /* uint64_t ns since the epoch, ISO 8601 string */
	EVT_LIST,   /* NUL-separated strings, JSON array; length in the following uint32_t */
	EVT_ACTION, /* enum event_action */
	EVT_DERIVED /* computed from the action on output; ignored on input */
};

/* The values, grouped as they nest in JSON (siblings must stay contiguous). */
struct event_proc_ref {
	uint32_t pid;
	char entity_id[EVENT_ENTITY_ID_LEN];
	char executable[EVENT_PATH_LEN];
	char name[EVENT_NAME_LEN];
	char command_line[EVENT_PARENT_CMDLINE_LEN];
};

struct event {
	uint64_t timestamp_ns;
	enum event_action action;
	uint64_t sequence;
	uint64_t duration_ns;
	char host_name[EVENT_NAME_LEN];
	char host_boot_id[EVENT_ENTITY_ID_LEN + 4];
	struct {
		uint32_t pid;
		uint32_t tid;
		char entity_id[EVENT_ENTITY_ID_LEN];
		char executable[EVENT_PATH_LEN];
		char name[EVENT_NAME_LEN];
		char args[EVENT_ARGS_LEN] __attribute__((aligned(4)));
		uint32_t args_len; /* must follow args directly (EVT_LIST) */
		uint32_t args_count;
		char command_line[EVENT_CMDLINE_LEN];
		char working_directory[EVENT_PATH_LEN];
		uint64_t start_ns;
		int32_t exit_code;
		char sha256[65];
		uint32_t tty_major, tty_minor;
		uint32_t session_leader_pid;
		uint32_t euid, uid, egid, gid;
		struct event_proc_ref parent;
		bool args_truncated;
		bool setuid;
		bool memfd;
		bool deleted_executable;
		uint32_t prev_euid, prev_uid;
		uint32_t target_pid;
		uint32_t ptrace_request;
		uint32_t bpf_command;
	} process;
	char container_id[EVENT_SHORT_LEN + 1];
	char user_name[EVENT_SHORT_LEN];
	uint32_t auid;
	struct {
		char path[EVENT_PATH_LEN];
		char name[EVENT_NAME_LEN];
		char directory[EVENT_PATH_LEN];
		uint32_t mode;
		uint32_t uid, gid;
		uint64_t inode;
		uint64_t size;
		char original_path[EVENT_PATH_LEN];
		char original_name[EVENT_NAME_LEN];
	} file;
	struct {
		char ip[EVENT_IP_LEN];
		uint32_t port;
	} source, destination;
	char net_transport[8];
	char net_type[8];
	char net_direction[12];
	char net_protocol[16];
	char dns_question_name[EVENT_NAME_LEN];
	char dns_question_type[16];
	char tags[EVENT_TAGS_LEN] __attribute__((aligned(4)));
	uint32_t tags_len; /* must follow tags directly (EVT_LIST) */
	char mamori_source[EVENT_SHORT_LEN];
	uint64_t drops_kernel;
	uint64_t drops_queue;
	uint64_t drops_shed;
	uint64_t events_total;

	uint8_t present[16]; /* bit per enum event_field, for non-string values */
};

/* X(ID, "ecs.name", type, member) in output order. */
#define EVENT_FIELDS(X)                                                                            \
	X(TIMESTAMP, "@timestamp", EVT_TIME, timestamp_ns)                                         \
	X(EVENT_KIND, "event.kind", EVT_DERIVED, action)                                           \
	X(EVENT_CATEGORY, "event.category", EVT_DERIVED, action)                                   \
	X(EVENT_TYPE, "event.type", EVT_DERIVED, action)                                           \
	X(EVENT_ACTION, "event.action", EVT_ACTION, action)                                        \
	X(EVENT_SEQUENCE, "event.sequence", EVT_U64, sequence)                                     \
	X(EVENT_DURATION, "event.duration", EVT_U64, duration_ns)                                  \
	X(HOST_NAME, "host.name", EVT_STR, host_name)                                              \
	X(HOST_BOOT_ID, "host.boot.id", EVT_STR, host_boot_id)                                     \
	X(PROCESS_PID, "process.pid", EVT_U32, process.pid)                                        \
	X(PROCESS_TID, "process.thread.id", EVT_U32, process.tid)                                  \
	X(PROCESS_ENTITY_ID, "process.entity_id", EVT_STR, process.entity_id)                      \
	X(PROCESS_EXECUTABLE, "process.executable", EVT_STR, process.executable)                   \
	X(PROCESS_NAME, "process.name", EVT_STR, process.name)                                     \
	X(PROCESS_ARGS, "process.args", EVT_LIST, process.args)                                    \
	X(PROCESS_ARGS_COUNT, "process.args_count", EVT_U32, process.args_count)                   \
	X(PROCESS_COMMAND_LINE, "process.command_line", EVT_STR, process.command_line)             \
	X(PROCESS_WORKING_DIRECTORY, "process.working_directory", EVT_STR,                         \
	  process.working_directory)                                                               \
	X(PROCESS_START, "process.start", EVT_TIME, process.start_ns)                              \
	X(PROCESS_EXIT_CODE, "process.exit_code", EVT_I32, process.exit_code)                      \
	X(PROCESS_HASH_SHA256, "process.hash.sha256", EVT_STR, process.sha256)                     \
	X(PROCESS_TTY_MAJOR, "process.tty.char_device.major", EVT_U32, process.tty_major)          \
	X(PROCESS_TTY_MINOR, "process.tty.char_device.minor", EVT_U32, process.tty_minor)          \
	X(PROCESS_SESSION_LEADER_PID, "process.session_leader.pid", EVT_U32,                       \
	  process.session_leader_pid)                                                              \
	X(PROCESS_USER_ID, "process.user.id", EVT_STR_U32, process.euid)                           \
	X(PROCESS_REAL_USER_ID, "process.real_user.id", EVT_STR_U32, process.uid)                  \
	X(PROCESS_GROUP_ID, "process.group.id", EVT_STR_U32, process.egid)                         \
	X(PROCESS_REAL_GROUP_ID, "process.real_group.id", EVT_STR_U32, process.gid)                \
	X(PROCESS_PARENT_PID, "process.parent.pid", EVT_U32, process.parent.pid)                   \
	X(PROCESS_PARENT_ENTITY_ID, "process.parent.entity_id", EVT_STR, process.parent.entity_id) \
	X(PROCESS_PARENT_EXECUTABLE, "process.parent.executable", EVT_STR,                         \
	  process.parent.executable)                                                               \
	X(PROCESS_PARENT_NAME, "process.parent.name", EVT_STR, process.parent.name)                \
	X(PROCESS_PARENT_COMMAND_LINE, "process.parent.command_line", EVT_STR,                     \
	  process.parent.command_line)                                                             \
	X(PROCESS_EXT_ARGS_TRUNCATED, "process.Ext.args_truncated", EVT_BOOL,                      \
	  process.args_truncated)                                                                  \
	X(PROCESS_EXT_SETUID, "process.Ext.setuid", EVT_BOOL, process.setuid)                      \
	X(PROCESS_EXT_MEMFD, "process.Ext.memfd", EVT_BOOL, process.memfd)                         \
	X(PROCESS_EXT_DELETED, "process.Ext.deleted_executable", EVT_BOOL,                         \
	  process.deleted_executable)                                                              \
	X(PROCESS_EXT_PREV_USER_ID, "process.Ext.previous.user.id", EVT_STR_U32, process.prev_euid) \
	X(PROCESS_EXT_PREV_REAL_USER_ID, "process.Ext.previous.real_user.id", EVT_STR_U32,         \
	  process.prev_uid)                                                                        \
	X(PROCESS_EXT_TARGET_PID, "process.Ext.target.pid", EVT_U32, process.target_pid)           \
	X(PROCESS_EXT_PTRACE_REQUEST, "process.Ext.ptrace.request", EVT_U32,                       \
	  process.ptrace_request)                                                                  \
	X(PROCESS_EXT_BPF_COMMAND, "process.Ext.bpf.command", EVT_U32, process.bpf_command)        \
	X(CONTAINER_ID, "container.id", EVT_STR, container_id)                                     \
	X(USER_ID, "user.id", EVT_STR_U32, process.euid)                                           \
	X(USER_NAME, "user.name", EVT_STR, user_name)                                              \
	X(USER_AUDIT_ID, "user.audit.id", EVT_STR_U32, auid)                                       \
	X(FILE_PATH, "file.path", EVT_STR, file.path)                                              \
	X(FILE_NAME, "file.name", EVT_STR, file.name)                                              \
	X(FILE_DIRECTORY, "file.directory", EVT_STR, file.directory)                               \
	X(FILE_MODE, "file.mode", EVT_MODE, file.mode)                                             \
	X(FILE_UID, "file.uid", EVT_STR_U32, file.uid)                                             \
	X(FILE_GID, "file.gid", EVT_STR_U32, file.gid)                                             \
	X(FILE_INODE, "file.inode", EVT_U64, file.inode)                                           \
	X(FILE_SIZE, "file.size", EVT_U64, file.size)                                              \
	X(FILE_EXT_ORIGINAL_PATH, "file.Ext.original.path", EVT_STR, file.original_path)           \
	X(FILE_EXT_ORIGINAL_NAME, "file.Ext.original.name", EVT_STR, file.original_name)           \
	X(SOURCE_IP, "source.ip", EVT_STR, source.ip)                                              \
	X(SOURCE_PORT, "source.port", EVT_U32, source.port)                                        \
	X(DESTINATION_IP, "destination.ip", EVT_STR, destination.ip)                               \
	X(DESTINATION_PORT, "destination.port", EVT_U32, destination.port)                         \
	X(NETWORK_TRANSPORT, "network.transport", EVT_STR, net_transport)                          \
	X(NETWORK_TYPE, "network.type", EVT_STR, net_type)                                         \
	X(NETWORK_DIRECTION, "network.direction", EVT_STR, net_direction)                          \
	X(NETWORK_PROTOCOL, "network.protocol", EVT_STR, net_protocol)                             \
	X(DNS_QUESTION_NAME, "dns.question.name", EVT_STR, dns_question_name)                      \
	X(DNS_QUESTION_TYPE, "dns.question.type", EVT_STR, dns_question_type)                      \
	X(TAGS, "tags", EVT_LIST, tags)                                                            \
	X(MAMORI_SOURCE, "mamori.source", EVT_STR, mamori_source)                                  \
	X(MAMORI_DROPS_KERNEL, "mamori.drops.kernel", EVT_U64, drops_kernel)                       \
	X(MAMORI_DROPS_QUEUE, "mamori.drops.queue", EVT_U64, drops_queue)                          \
	X(MAMORI_DROPS_SHED, "mamori.drops.shed", EVT_U64, drops_shed)                             \
	X(MAMORI_EVENTS_TOTAL, "mamori.events.total", EVT_U64, events_total)

enum event_field {
#define X(id, name, type, member) EVF_##id,
	EVENT_FIELDS(X)
#undef X
		EVF_COUNT
};

struct event_field_desc {
	const char *name;
	enum event_type type;
	size_t offset;
	size_t size;
};

extern const struct event_field_desc event_field_table[EVF_COUNT];

/* event_has for hot loops that already hold the field's descriptor d and its address p. */
static inline bool event_has_at(const struct event *ev, enum event_field f,
				const struct event_field_desc *d, const char *p)
{
	switch (d->type) {
	case EVT_STR:
		return p[0] != '\0';
	case EVT_LIST:
		return *(const uint32_t *)(p + d->size) != 0;
	case EVT_ACTION:
	case EVT_DERIVED:
		return ev->action != EVENT_ACTION_NONE;
	default:
		return (ev->present[f / 8] >> (f % 8)) & 1;
	}
}

/* Clears the event (all fields absent). */
void event_reset(struct event *ev);
/* Marks a numeric or boolean field present; strings are present when non-empty. */
void event_mark(struct event *ev, enum event_field f);
bool event_has(const struct event *ev, enum event_field f);

/* Looks a field up by its ECS name; NULL when unknown. */
const struct event_field_desc *event_field_find(const char *name, size_t len);

const char *event_action_name(enum event_action a);
/* EVENT_ACTION_NONE when unknown. */
enum event_action event_action_parse(const char *s, size_t len);
/* "process", "file", "network", "driver" or "host". */
const char *event_action_category(enum event_action a);

/* Copies src into the fixed field dst[size], truncating at a UTF-8 boundary. Returns true when
 * it had to truncate. */
bool event_copy_str(char *dst, size_t size, const char *src, size_t len);
/* Appends one entry to a list field (process.args, tags); false (and nothing added) when full. */
bool event_list_add(char *list, size_t size, uint32_t *len, const char *s, size_t n);
/* Joins process.args into process.command_line with single spaces. */
void event_build_command_line(struct event *ev);

#endif
