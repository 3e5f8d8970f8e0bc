/* trailkeep event output formats: a stored canonical event rendered for
 * readers that expect another shape. Today: the CloudTrail record (the
 * "CloudTrailEvent" string of the CloudTrail-compatible LookupEvents). */
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

#endif
