/* Adapter from the agent's struct event (src/common/event.h) to a struct detect_doc, for local
 * detection without a JSON round trip. The ECS name of every EVENT_FIELDS entry is looked up in
 * the rules' field table once (struct detect_event_map), so filling a doc does no hashing:
 * strings are borrowed from the event, numbers are rendered as decimal text into the arena. */
#ifndef MAMORI_DETECT_DOC_EVENT_H
#define MAMORI_DETECT_DOC_EVENT_H

struct detect_doc;
struct detect_fields;
struct event;
struct detect_event_map;

/* Caller owns the result (detect_event_map_free). Build it after the rules are loaded: fields
 * interned later are not seen. fields is borrowed and must outlive the map. NULL + errno. */
struct detect_event_map *detect_event_map_new(const struct detect_fields *fields);
void detect_event_map_free(struct detect_event_map *m);

/* Resets doc and fills it from ev (borrowed until the next reset), with the field ids of map
 * (built from doc's field table), then classifies it. event.kind, event.category and event.type
 * are derived from the action exactly as event_json_encode writes them. Returns 0, or -EINVAL
 * when map belongs to another field table. Values that did not fit are counted in
 * doc->overflow. */
int detect_doc_from_event(struct detect_doc *doc, const struct detect_event_map *map,
			  const struct event *ev);

#endif
