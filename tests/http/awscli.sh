#!/usr/bin/env bash
# End-to-end: the CloudTrail-compatible endpoint with the real aws CLI
# (Debian awscli, SigV4): lookup-events by attribute, automatic pagination
# (--page-size) returning every event exactly once, the CloudTrail Event
# shape, and AWS-shaped errors for a bad secret, an unknown key and a bad
# attribute.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/http_lib.bash"

[ -x "$AWS" ] || { nok "Debian awscli is installed ($AWS)"; tk_done; }
D=$TMP/data
start_server "$D" || { nok "server starts"; tk_done; }
bootstrap_key "$D"
A="$KEY_ID:$KEY_SECRET"
ACCT=100000000000000
NOW=$(date +%s)
T0=$((NOW - 3600))

gen_events 37 $ACCT $T0 10 ct >"$TMP/ev.jsonl"
# Sign-ins with a resource list, for the Resources mapping.
gen_events 3 $ACCT $((T0 + 5)) 10 signin '{"eventName":"ConsoleSignin","eventType":"ConsoleSignin","eventRW":"Write","resourceType":"","resourceName":"","referencedResources":{"ACS::RAM::User":["alice","bob"]}}' >>"$TMP/ev.jsonl"
req POST /v1/events "$A" --data-binary @"$TMP/ev.jsonl" >/dev/null
eq "40 events ingested" "200 40" "$CODE $(jget "$TMP/body" 'j["accepted"]')"

export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$KEY_SECRET AWS_DEFAULT_REGION=cn-hangzhou
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
aws_ct() { "$AWS" cloudtrail lookup-events --endpoint-url "$URL" --region cn-hangzhou --output json "$@"; }

aws_ct --lookup-attributes AttributeKey=EventName,AttributeValue=ConsoleSignin >"$TMP/signin.json" 2>"$TMP/aws.err"
eq "aws lookup-events EventName=ConsoleSignin: 3 events" 3 "$(jget "$TMP/signin.json" 'len(j["Events"])')"
eq "newest first, CloudTrail shape" "signin-000002 ConsoleSignin false bob" \
  "$(jget "$TMP/signin.json" '" ".join([j["Events"][0]["EventId"], j["Events"][0]["EventName"], j["Events"][0]["ReadOnly"], j["Events"][0]["Username"]])')"
eq "Resources from referencedResources" "ACS::RAM::User:alice ACS::RAM::User:bob" \
  "$(jget "$TMP/signin.json" '" ".join(r["ResourceType"]+":"+r["ResourceName"] for r in j["Events"][0]["Resources"])')"
check "CloudTrailEvent is the CloudTrail record as a JSON string" \
  $PY -c "import json; j=json.load(open('$TMP/signin.json')); e=json.loads(j['Events'][0]['CloudTrailEvent']); assert e['eventID']=='signin-000002' and e['awsRegion']=='cn-hangzhou', e"
check "EventTime is the event's time" \
  $PY -c "import json,datetime; j=json.load(open('$TMP/signin.json')); t=j['Events'][0]['EventTime']; assert abs(datetime.datetime.fromisoformat(t).timestamp()-($T0+25))<1, t"

# Automatic pagination: pages of 4 over 40 events = 10 requests.
aws_ct --page-size 4 >"$TMP/all.json" 2>"$TMP/aws.err"
eq "automatic pagination returns all 40 events" 40 "$(jget "$TMP/all.json" 'len(j["Events"])')"
eq "no event twice" 40 "$(jget "$TMP/all.json" 'len(set(e["EventId"] for e in j["Events"]))')"
check "in time order, newest first" \
  $PY -c "import json; j=json.load(open('$TMP/all.json')); ids=[e['EventId'] for e in j['Events']]; ev=[json.loads(l) for l in open('$TMP/ev.jsonl')]; ev.sort(key=lambda e:e['eventTime'], reverse=True); assert ids==[e['eventId'] for e in ev], ids[:5]"

aws_ct --lookup-attributes AttributeKey=ReadOnly,AttributeValue=false --page-size 5 >"$TMP/rw.json" 2>>"$TMP/aws.err"
eq "ReadOnly=false maps to EventRW=Write" "$(grep -c '"eventRW":"Write"' "$TMP/ev.jsonl")" "$(jget "$TMP/rw.json" 'len(j["Events"])')"
aws_ct --lookup-attributes AttributeKey=Username,AttributeValue=alice >"$TMP/u.json" 2>>"$TMP/aws.err"
eq "Username maps to User" "$(grep -c '"userName":"alice"' "$TMP/ev.jsonl")" "$(jget "$TMP/u.json" 'len(j["Events"])')"
aws_ct --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=LTAItest0003 >"$TMP/ak.json" 2>>"$TMP/aws.err"
eq "AccessKeyId maps to EventAccessKeyId" "$(grep -c '"accessKeyId":"LTAItest0003"' "$TMP/ev.jsonl")" "$(jget "$TMP/ak.json" 'len(j["Events"])')"
aws_ct --start-time $((T0 + 100)) --end-time $((T0 + 200)) >"$TMP/tr.json" 2>>"$TMP/aws.err"
eq "StartTime/EndTime as epoch seconds" 11 "$(jget "$TMP/tr.json" 'len(j["Events"])')"

AWS_SECRET_ACCESS_KEY=${KEY_SECRET%?}X aws_ct >/dev/null 2>"$TMP/e1"
check "wrong secret: InvalidSignatureException" grep -q InvalidSignatureException "$TMP/e1"
AWS_ACCESS_KEY_ID=TKAAAAAAAAAAAAAAAAAA aws_ct >/dev/null 2>"$TMP/e2"
check "unknown key: UnrecognizedClientException" grep -q UnrecognizedClientException "$TMP/e2"
aws_ct --lookup-attributes AttributeKey=Bogus,AttributeValue=x >/dev/null 2>"$TMP/e3"
check "bad attribute key: InvalidLookupAttributesException (CLI or server)" grep -q -e InvalidLookupAttributesException -e "Invalid choice\|valid choices\|Bogus" "$TMP/e3"

# The same endpoint by curl: errors in the AWS JSON shape.
curl -s -o "$TMP/b" -w '%{http_code}' -X POST "$URL/" -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' \
  -H 'Content-Type: application/x-amz-json-1.1' -H "Authorization: Bearer $A" \
  --data '{"LookupAttributes":[{"AttributeKey":"Nope","AttributeValue":"x"}]}' >"$TMP/code"
eq "unknown AttributeKey: 400 InvalidLookupAttributesException" "400 InvalidLookupAttributesException" "$(cat "$TMP/code") $(jget "$TMP/b" 'j["__type"]')"
curl -s -o "$TMP/b" -w '%{http_code}' -X POST "$URL/" -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.PutEventSelectors' \
  -H "Authorization: Bearer $A" --data '{}' >"$TMP/code"
eq "operations not implemented: 400 UnknownOperationException" "400 UnknownOperationException" "$(cat "$TMP/code") $(jget "$TMP/b" 'j["__type"]')"
curl -s -o "$TMP/b" -w '%{http_code}' -X POST "$URL/" -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' \
  --data '{}' >"$TMP/code"
eq "no credentials: 403 in AWS shape" "403 MissingAuthenticationTokenException" "$(cat "$TMP/code") $(jget "$TMP/b" 'j["__type"]')"
curl -s -o "$TMP/b" -w '%{http_code}' -X POST "$URL/" -H 'X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' \
  -H "Authorization: Bearer $A" --data '{"NextToken":"forged"}' >"$TMP/code"
eq "forged NextToken: 400 InvalidNextTokenException" "400 InvalidNextTokenException" "$(cat "$TMP/code") $(jget "$TMP/b" 'j["__type"]')"
# Without StartTime CloudTrail looks back 90 days (the ActionTrail API: 7),
# and EventCategory insight returns the Insights records only.
gen_events 1 $ACCT $((NOW - 30 * 86400)) 1 old '{"eventName":"OldCall"}' >"$TMP/old.jsonl"
gen_events 2 $ACCT $((NOW - 600)) 1 ins '{"eventName":"ApiCallRateInsight","eventType":"ActionTrailInsight"}' >>"$TMP/old.jsonl"
req POST /v1/events "$A" --data-binary @"$TMP/old.jsonl" >/dev/null
eq "lookup-events without --start-time finds a 30-day-old event (90-day default)" 1 \
  "$(aws_ct --lookup-attributes AttributeKey=EventName,AttributeValue=OldCall | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["Events"]))')"
eq "lookup-events --event-category insight: only the 2 Insights records" "2 ApiCallRateInsight" \
  "$(aws_ct --event-category insight | $PY -c 'import json,sys; e=json.load(sys.stdin)["Events"]; print(len(e), " ".join(sorted({x["EventName"] for x in e})))')"

# The CloudTrail control plane with the real aws CLI (SigV4) on trailkeep's trails.
ct() { "$AWS" cloudtrail --endpoint-url "$URL" --region cn-hangzhou --output json "$@"; }
mkdir -p "$D/trail-folders/aws"
req POST "/v1/trails?Action=CreateTrail&Name=aws-trail&OssBucketName=audit-bkt&OssKeyPrefix=p1&DestinationType=folder&Dest.path=$D/trail-folders/aws" "$A" >/dev/null
eq "a trail created over /v1/trails" 200 "$CODE"
ct describe-trails >"$TMP/dt.json" 2>"$TMP/ct.err"
eq "aws cloudtrail describe-trails: the trail with CloudTrail's names" "aws-trail audit-bkt p1 True arn:aws:cloudtrail:" \
  "$(jget "$TMP/dt.json" '" ".join([j["trailList"][0]["Name"], j["trailList"][0]["S3BucketName"], j["trailList"][0]["S3KeyPrefix"], str(j["trailList"][0]["LogFileValidationEnabled"]), j["trailList"][0]["TrailARN"][:19]])')"
eq "aws cloudtrail list-trails" "aws-trail" "$(ct list-trails | $PY -c 'import json,sys; print(json.load(sys.stdin)["Trails"][0]["Name"])')"
ARN=$(jget "$TMP/dt.json" 'j["trailList"][0]["TrailARN"]')
eq "aws cloudtrail get-trail --name ARN" "aws-trail" "$(ct get-trail --name "$ARN" | $PY -c 'import json,sys; print(json.load(sys.stdin)["Trail"]["Name"])')"
eq "get-trail-status: not logging yet" "False" "$(ct get-trail-status --name aws-trail | $PY -c 'import json,sys; print(json.load(sys.stdin)["IsLogging"])')"
check "aws cloudtrail start-logging" ct start-logging --name aws-trail
ct get-trail-status --name aws-trail >"$TMP/st.json"
eq "get-trail-status: logging, since a StartLoggingTime botocore parses" "True 1" \
  "$(jget "$TMP/st.json" 'j["IsLogging"]') $(grep -c '"StartLoggingTime": "20' "$TMP/st.json")"
check "aws cloudtrail stop-logging" ct stop-logging --name aws-trail
ct get-trail --name no-such-trail >/dev/null 2>"$TMP/nf.err"
eq "get-trail of an unknown trail: exit 254, TrailNotFoundException" "254 1" "$? $(grep -c TrailNotFoundException "$TMP/nf.err")"
ct create-trail --name ct-made --s3-bucket-name audit-bkt2 --is-multi-region-trail >"$TMP/ct.json" 2>"$TMP/ct.err"
eq "aws cloudtrail create-trail: an S3 trail, multi-region" "ct-made audit-bkt2 True" \
  "$(jget "$TMP/ct.json" '" ".join([j["Name"], j["S3BucketName"], str(j["IsMultiRegionTrail"])])')"
eq "aws cloudtrail update-trail --s3-key-prefix" "p2" \
  "$(ct update-trail --name ct-made --s3-key-prefix p2 | $PY -c 'import json,sys; print(json.load(sys.stdin)["S3KeyPrefix"])')"
ct create-trail --name ct-made --s3-bucket-name audit-bkt2 >/dev/null 2>"$TMP/ct.err"
eq "create-trail of an existing name: TrailAlreadyExistsException" "254 1" "$? $(grep -c TrailAlreadyExistsException "$TMP/ct.err")"
ct create-trail --name ct-other --s3-bucket-name audit-bkt2 --sns-topic-name t >/dev/null 2>"$TMP/ct.err"
eq "create-trail with a field trailkeep does not do (SnsTopicName): refused, named" "254 1" "$? $(grep -c 'SnsTopicName is not supported' "$TMP/ct.err")"
check "delete-trail ct-made" ct delete-trail --name ct-made
ct list-public-keys >"$TMP/pk.json" 2>"$TMP/pk.err"
eq "aws cloudtrail list-public-keys: a PublicKeyList (empty until a digest is signed)" "0 list" \
  "$? $(jget "$TMP/pk.json" 'type(j["PublicKeyList"]).__name__')"
check "aws cloudtrail delete-trail" ct delete-trail --name aws-trail
eq "describe-trails after the delete: none" 0 "$(ct describe-trails | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["trailList"]))')"
check "access log: never the secret" bash -c "! grep -q '$KEY_SECRET' '$D.access' '$D.err'"
stop_server >/dev/null
tk_done
