/* trailkeep event output formats: a stored canonical event rendered for
 * readers that expect another shape: the CloudTrail record (the
 * "CloudTrailEvent" string of the CloudTrail-compatible LookupEvents) and
 * OCSF API Activity (security lakes). Formats are table entries
 * (tk_event_format_find) so --output, trails and exports share one list. */
#ifndef TK_EVENT_FORMAT_H
#define TK_EVENT_FORMAT_H

#include "base/buf.h"

#include <stddef.h>

/* Appends to out the CloudTrail record of the stored event json[0..len)
 * (borrowed, as returned by the store). When the event came from CloudTrail,
 * that original record is returned byte for byte ("cloudTrailRecord");
 * otherwise the reverse of the SPEC.md 1.2 mapping is built: acsRegion->
 * awsRegion, sourceIpAddress->sourceIPAddress, eventRW->readOnly, eventId->
 * eventID, requestId->requestID, referencedResources->resources[{ARN,type}],
 * userIdentity.type ram-user->IAMUser, root-account->Root, assumed-role->
 * AssumedRole, system->AWSService, ...; eventType ApiCall->AwsApiCall,
 * ConsoleSignin->AwsConsoleSignIn, ...; eventVersion "1.08".
 * Needs no parser state (works from any thread). 0, TK_EINVAL (not an
 * object) or TK_ENOMEM, message in err. */
int tk_event_to_cloudtrail(const char *json, size_t len, tk_buf_t *out, char *err);

/* Appends to out the stored event json[0..len) (borrowed) as an OCSF 1.1
 * API Activity record (class_uid 6003): activity_id from the API name
 * (Describe/Get/List -> 2 Read, Create/Add/Run/Attach -> 1 Create,
 * Update/Modify/Set/Put -> 3 Update, Delete/Remove/Detach/Terminate -> 4
 * Delete, else eventRW Read -> 2, else 99 Other), time (ms), status
 * (errorCode -> Failure), metadata (uid = eventId, product ActionTrail or
 * CloudTrail), api {operation, service.name, request {uid, data},
 * response.data, version}, actor.user {type, uid, name, credential_uid,
 * account.uid}, src_endpoint.ip (or .domain for "Internal"/service hosts),
 * http_request.user_agent, cloud {provider, region, account.uid},
 * resources [{type, uid}] from referencedResources. Stateless. 0,
 * TK_EINVAL (not an object) or TK_ENOMEM. */
int tk_event_to_ocsf(const char *json, size_t len, tk_buf_t *out, char *err);

/* An output format: one row of the registry. */
typedef struct tk_event_format {
    const char *name;        /* "canonical", "cloudtrail", "ocsf" */
    const char *description; /* one line, for --help */
    /* Appends the stored event json[0..len) rendered in this format to out. */
    int (*render)(const char *json, size_t len, tk_buf_t *out, char *err);
} tk_event_format_t;

/* The registry (static array) and lookup by name (NULL when unknown). */
size_t tk_event_formats(const tk_event_format_t **out);
const tk_event_format_t *tk_event_format_find(const char *name);

#endif
