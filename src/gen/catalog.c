/* trailkeep event generator catalog: the regions, services, APIs (with
 * Zipf-like popularity: Ecs DescribeInstances dominates, reads ~80%), resource
 * kinds, error codes and user agents that generated events draw from. Tables
 * only, so adding an API is one row. Names follow Alibaba Cloud's APIs; the
 * aws_* columns give the CloudTrail equivalents for the CloudTrail shape. */
#include "gen/gen_internal.h"
#include "base/tk.h"

const gen_region_t gen_regions[GEN_REGION_COUNT] = {
    {"cn-hangzhou", "bp1", "us-east-1"},     {"cn-shanghai", "uf6", "us-east-2"},
    {"cn-beijing", "2ze", "us-west-2"},      {"cn-shenzhen", "wz9", "us-west-1"},
    {"cn-zhangjiakou", "8vb", "ca-central-1"}, {"cn-hongkong", "j6c", "ap-east-1"},
    {"ap-southeast-1", "t4n", "ap-southeast-1"}, {"us-west-1", "rj9", "eu-west-1"},
    {"eu-central-1", "gw8", "eu-central-1"},
};

const gen_res_kind_t gen_res_kinds[RES__COUNT] = {
    [RES_NONE] = {"", "", "", "", 0, 0},
    [RES_INSTANCE] = {"ACS::ECS::Instance", "i-", "InstanceId", "AWS::EC2::Instance", 17, 1},
    [RES_DISK] = {"ACS::ECS::Disk", "d-", "DiskId", "AWS::EC2::Volume", 17, 1},
    [RES_SG] = {"ACS::ECS::SecurityGroup", "sg-", "SecurityGroupId", "AWS::EC2::SecurityGroup", 17, 1},
    [RES_IMAGE] = {"ACS::ECS::Image", "m-", "ImageId", "AWS::EC2::Image", 17, 1},
    [RES_SNAPSHOT] = {"ACS::ECS::Snapshot", "s-", "SnapshotId", "AWS::EC2::Snapshot", 17, 1},
    [RES_VPC] = {"ACS::VPC::VPC", "vpc-", "VpcId", "AWS::EC2::VPC", 17, 1},
    [RES_VSWITCH] = {"ACS::VPC::VSwitch", "vsw-", "VSwitchId", "AWS::EC2::Subnet", 17, 1},
    [RES_EIP] = {"ACS::VPC::EIP", "eip-", "AllocationId", "AWS::EC2::EIP", 17, 1},
    [RES_DB] = {"ACS::RDS::DBInstance", "rm-", "DBInstanceId", "AWS::RDS::DBInstance", 13, 1},
    [RES_LB] = {"ACS::SLB::LoadBalancer", "lb-", "LoadBalancerId",
                "AWS::ElasticLoadBalancingV2::LoadBalancer", 17, 1},
    [RES_BUCKET] = {"ACS::OSS::Bucket", "", "BucketName", "AWS::S3::Bucket", 0, 0},
    [RES_RAMUSER] = {"ACS::RAM::User", "", "UserName", "AWS::IAM::User", 0, 0},
    [RES_POLICY] = {"ACS::RAM::Policy", "", "PolicyName", "AWS::IAM::Policy", 0, 0},
    [RES_ROLE] = {"ACS::RAM::Role", "", "RoleName", "AWS::IAM::Role", 0, 0},
    [RES_TRAIL] = {"ACS::ActionTrail::Trail", "", "Name", "AWS::CloudTrail::Trail", 0, 0},
    [RES_KEY] = {"ACS::KMS::Key", "key-", "KeyId", "AWS::KMS::Key", 20, 1},
};

const gen_service_t gen_services[SVC__COUNT] = {
    [SVC_ECS] = {"Ecs", "ecs.aliyuncs.com", 0, 0, "2014-05-26", "ec2.amazonaws.com"},
    [SVC_RAM] = {"Ram", "ram.aliyuncs.com", 0, 1, "2015-05-01", "iam.amazonaws.com"},
    [SVC_STS] = {"Sts", "sts.aliyuncs.com", 0, 1, "2015-04-01", "sts.amazonaws.com"},
    [SVC_OSS] = {"Oss", "oss", 2, 0, "2019-05-17", "s3.amazonaws.com"},
    [SVC_VPC] = {"Vpc", "vpc.aliyuncs.com", 0, 0, "2016-04-28", "ec2.amazonaws.com"},
    [SVC_RDS] = {"Rds", "rds.aliyuncs.com", 0, 0, "2014-08-15", "rds.amazonaws.com"},
    [SVC_SLB] = {"Slb", "slb.aliyuncs.com", 0, 0, "2014-05-15", "elasticloadbalancing.amazonaws.com"},
    [SVC_ACTIONTRAIL] = {"ActionTrail", "actiontrail", 1, 0, "2020-07-06",
                         "cloudtrail.amazonaws.com"},
    [SVC_KMS] = {"Kms", "kms", 1, 0, "2016-01-20", "kms.amazonaws.com"},
    [SVC_CMS] = {"Cms", "metrics", 1, 0, "2019-01-01", "monitoring.amazonaws.com"},
};

/* Weights: reads sum to ~80% of the total, writes ~20%. */
const gen_api_t gen_apis[] = {
    /* Ecs */
    {SVC_ECS, "DescribeInstances", 0, 2600, RES_INSTANCE, 0, P_RESLIST, 40, "DescribeInstances"},
    {SVC_ECS, "DescribeInstanceStatus", 0, 700, RES_INSTANCE, 0, P_PAGE, 0, "DescribeInstanceStatus"},
    {SVC_ECS, "DescribeInstanceAttribute", 0, 450, RES_INSTANCE, 0, P_RES, 100, "DescribeInstanceAttribute"},
    {SVC_ECS, "DescribeDisks", 0, 420, RES_DISK, 0, P_PAGE, 30, "DescribeVolumes"},
    {SVC_ECS, "DescribeSecurityGroups", 0, 330, RES_SG, 0, P_PAGE, 20, "DescribeSecurityGroups"},
    {SVC_ECS, "DescribeSecurityGroupAttribute", 0, 160, RES_SG, 0, P_RES, 100, "DescribeSecurityGroupRules"},
    {SVC_ECS, "DescribeImages", 0, 200, RES_IMAGE, 0, P_PAGE, 25, "DescribeImages"},
    {SVC_ECS, "DescribeRegions", 0, 160, RES_NONE, 0, P_NONE, 0, "DescribeRegions"},
    {SVC_ECS, "DescribeSnapshots", 0, 120, RES_SNAPSHOT, 0, P_PAGE, 20, "DescribeSnapshots"},
    {SVC_ECS, "DescribeInstanceTypes", 0, 80, RES_NONE, 0, P_NONE, 0, "DescribeInstanceTypes"},
    {SVC_ECS, "StartInstance", 1, 204, RES_INSTANCE, 0, P_RES, 100, "StartInstances"},
    {SVC_ECS, "StopInstance", 1, 187, RES_INSTANCE, 0, P_RES, 100, "StopInstances"},
    {SVC_ECS, "RebootInstance", 1, 119, RES_INSTANCE, 0, P_RES, 100, "RebootInstances"},
    {SVC_ECS, "RunInstances", 1, 102, RES_INSTANCE, 0, P_RUN, 100, "RunInstances"},
    {SVC_ECS, "DeleteInstance", 1, 42, RES_INSTANCE, 0, P_RES, 100, "TerminateInstances"},
    {SVC_ECS, "ModifyInstanceAttribute", 1, 102, RES_INSTANCE, 0, P_RES, 100, "ModifyInstanceAttribute"},
    {SVC_ECS, "AuthorizeSecurityGroup", 1, 76, RES_SG, 0, P_SG_RULE, 100, "AuthorizeSecurityGroupIngress"},
    {SVC_ECS, "RevokeSecurityGroup", 1, 34, RES_SG, 0, P_SG_RULE, 100, "RevokeSecurityGroupIngress"},
    {SVC_ECS, "CreateSnapshot", 1, 153, RES_DISK, RES_SNAPSHOT, P_CREATE, 100, "CreateSnapshot"},
    {SVC_ECS, "AttachDisk", 1, 51, RES_INSTANCE, RES_DISK, P_ATTACH_DISK, 100, "AttachVolume"},
    {SVC_ECS, "CreateDisk", 1, 42, RES_DISK, 0, P_CREATE, 100, "CreateVolume"},
    /* Vpc */
    {SVC_VPC, "DescribeVpcs", 0, 260, RES_VPC, 0, P_PAGE, 20, "DescribeVpcs"},
    {SVC_VPC, "DescribeVSwitches", 0, 220, RES_VSWITCH, 0, P_PAGE, 20, "DescribeSubnets"},
    {SVC_VPC, "DescribeEipAddresses", 0, 150, RES_EIP, 0, P_PAGE, 20, "DescribeAddresses"},
    {SVC_VPC, "CreateVSwitch", 1, 31, RES_VPC, RES_VSWITCH, P_CREATE, 100, "CreateSubnet"},
    {SVC_VPC, "AllocateEipAddress", 1, 42, RES_EIP, 0, P_CREATE, 100, "AllocateAddress"},
    {SVC_VPC, "AssociateEipAddress", 1, 42, RES_EIP, RES_INSTANCE, P_RES, 100, "AssociateAddress"},
    {SVC_VPC, "CreateVpc", 1, 14, RES_VPC, 0, P_CREATE, 100, "CreateVpc"},
    {SVC_VPC, "DeleteVpc", 1, 7, RES_VPC, 0, P_RES, 100, "DeleteVpc"},
    /* Oss */
    {SVC_OSS, "GetService", 0, 260, RES_NONE, 0, P_NONE, 0, "ListBuckets"},
    {SVC_OSS, "GetBucketInfo", 0, 230, RES_BUCKET, 0, P_RES, 100, "GetBucketLocation"},
    {SVC_OSS, "GetBucketAcl", 0, 130, RES_BUCKET, 0, P_RES, 100, "GetBucketAcl"},
    {SVC_OSS, "GetBucketLifecycle", 0, 70, RES_BUCKET, 0, P_RES, 100, "GetBucketLifecycle"},
    {SVC_OSS, "PutBucket", 1, 26, RES_BUCKET, 0, P_RES, 100, "CreateBucket"},
    {SVC_OSS, "PutBucketAcl", 1, 31, RES_BUCKET, 0, P_RES, 100, "PutBucketAcl"},
    {SVC_OSS, "PutBucketLifecycle", 1, 24, RES_BUCKET, 0, P_RES, 100, "PutBucketLifecycle"},
    {SVC_OSS, "DeleteBucket", 1, 7, RES_BUCKET, 0, P_RES, 100, "DeleteBucket"},
    /* Ram (global) */
    {SVC_RAM, "ListUsers", 0, 140, RES_NONE, 0, P_NONE, 0, "ListUsers"},
    {SVC_RAM, "GetUser", 0, 120, RES_RAMUSER, 0, P_USER, 100, "GetUser"},
    {SVC_RAM, "ListPoliciesForUser", 0, 80, RES_RAMUSER, 0, P_USER, 100, "ListAttachedUserPolicies"},
    {SVC_RAM, "ListAccessKeys", 0, 70, RES_RAMUSER, 0, P_USER, 100, "ListAccessKeys"},
    {SVC_RAM, "ListPolicies", 0, 60, RES_NONE, 0, P_NONE, 0, "ListPolicies"},
    {SVC_RAM, "GetPolicy", 0, 50, RES_POLICY, 0, P_POLICY, 100, "GetPolicy"},
    {SVC_RAM, "ListRoles", 0, 40, RES_NONE, 0, P_NONE, 0, "ListRoles"},
    {SVC_RAM, "CreateUser", 1, 14, RES_RAMUSER, 0, P_USER, 100, "CreateUser"},
    {SVC_RAM, "CreateAccessKey", 1, 14, RES_RAMUSER, 0, P_AK, 100, "CreateAccessKey"},
    {SVC_RAM, "DeleteAccessKey", 1, 8, RES_RAMUSER, 0, P_USER, 100, "DeleteAccessKey"},
    {SVC_RAM, "AttachPolicyToUser", 1, 17, RES_RAMUSER, RES_POLICY, P_POLICY, 100, "AttachUserPolicy"},
    {SVC_RAM, "DetachPolicyFromUser", 1, 10, RES_RAMUSER, RES_POLICY, P_POLICY, 100, "DetachUserPolicy"},
    {SVC_RAM, "UpdateLoginProfile", 1, 8, RES_RAMUSER, 0, P_USER, 100, "UpdateLoginProfile"},
    {SVC_RAM, "CreateLoginProfile", 1, 5, RES_RAMUSER, 0, P_USER, 100, "CreateLoginProfile"},
    /* Sts */
    {SVC_STS, "AssumeRole", 1, 442, RES_ROLE, 0, P_ASSUME, 100, "AssumeRole"},
    {SVC_STS, "GetCallerIdentity", 0, 120, RES_NONE, 0, P_NONE, 0, "GetCallerIdentity"},
    /* Rds */
    {SVC_RDS, "DescribeDBInstances", 0, 240, RES_DB, 0, P_PAGE, 20, "DescribeDBInstances"},
    {SVC_RDS, "DescribeDBInstanceAttribute", 0, 110, RES_DB, 0, P_RES, 100, "DescribeDBInstanceAttributes"},
    {SVC_RDS, "DescribeBackups", 0, 80, RES_DB, 0, P_RES, 100, "DescribeDBSnapshots"},
    {SVC_RDS, "ModifySecurityIps", 1, 20, RES_DB, 0, P_SECIPS, 100, "ModifyDBInstance"},
    {SVC_RDS, "CreateBackup", 1, 51, RES_DB, 0, P_RES, 100, "CreateDBSnapshot"},
    {SVC_RDS, "CreateDBInstance", 1, 8, RES_DB, 0, P_CREATE, 100, "CreateDBInstance"},
    {SVC_RDS, "DeleteDBInstance", 1, 3, RES_DB, 0, P_RES, 100, "DeleteDBInstance"},
    /* Slb */
    {SVC_SLB, "DescribeLoadBalancers", 0, 170, RES_LB, 0, P_PAGE, 20, "DescribeLoadBalancers"},
    {SVC_SLB, "DescribeLoadBalancerAttribute", 0, 90, RES_LB, 0, P_RES, 100, "DescribeLoadBalancerAttributes"},
    {SVC_SLB, "DescribeHealthStatus", 0, 110, RES_LB, 0, P_RES, 100, "DescribeTargetHealth"},
    {SVC_SLB, "SetBackendServers", 1, 68, RES_LB, RES_INSTANCE, P_RES, 100, "RegisterTargets"},
    {SVC_SLB, "CreateLoadBalancer", 1, 8, RES_LB, 0, P_CREATE, 100, "CreateLoadBalancer"},
    /* ActionTrail */
    {SVC_ACTIONTRAIL, "DescribeTrails", 0, 30, RES_TRAIL, 0, P_NONE, 0, "DescribeTrails"},
    {SVC_ACTIONTRAIL, "GetTrailStatus", 0, 25, RES_TRAIL, 0, P_TRAIL, 100, "GetTrailStatus"},
    {SVC_ACTIONTRAIL, "LookupEvents", 0, 60, RES_NONE, 0, P_NONE, 0, "LookupEvents"},
    {SVC_ACTIONTRAIL, "UpdateTrail", 1, 3, RES_TRAIL, 0, P_TRAIL, 100, "UpdateTrail"},
    /* Kms */
    {SVC_KMS, "Decrypt", 0, 230, RES_KEY, 0, P_RES, 100, "Decrypt"},
    {SVC_KMS, "GenerateDataKey", 0, 110, RES_KEY, 0, P_RES, 100, "GenerateDataKey"},
    {SVC_KMS, "DescribeKey", 0, 40, RES_KEY, 0, P_RES, 100, "DescribeKey"},
    {SVC_KMS, "ListKeys", 0, 30, RES_NONE, 0, P_PAGE, 0, "ListKeys"},
    {SVC_KMS, "Encrypt", 1, 119, RES_KEY, 0, P_RES, 100, "Encrypt"},
    {SVC_KMS, "CreateKey", 1, 3, RES_KEY, 0, P_CREATE, 100, "CreateKey"},
    /* Cms (monitoring agents poll it) */
    {SVC_CMS, "DescribeMetricList", 0, 420, RES_INSTANCE, 0, P_METRIC, 100, "GetMetricData"},
    {SVC_CMS, "DescribeMetricLast", 0, 260, RES_INSTANCE, 0, P_METRIC, 100, "GetMetricStatistics"},
    /* Used only by scenarios (weight 0): never in background data. */
    {SVC_ACTIONTRAIL, "StopLogging", 1, 0, RES_TRAIL, 0, P_TRAIL, 100, "StopLogging"},
    {SVC_ACTIONTRAIL, "DeleteTrail", 1, 0, RES_TRAIL, 0, P_TRAIL, 100, "DeleteTrail"},
};
const uint32_t gen_api_count = TK_ARRAY_LEN(gen_apis);

int gen_api_find(int svc, const char *name)
{
    for (uint32_t i = 0; i < gen_api_count; i++)
        if (gen_apis[i].svc == svc && !strcmp(gen_apis[i].name, name))
            return (int)i;
    return -1;
}

static const gen_err_t e_forbidden = {"Forbidden.RAM",
    "User not authorized to operate on the specified resource, or this API doesn't support RAM.", 403};
static const gen_err_t e_noperm = {"NoPermission", "You are not authorized to do this action.", 403};
static const gen_err_t e_invparam = {"InvalidParameter", "The specified parameter is not valid.", 400};
static const gen_err_t e_throttle = {"Throttling", "Request was denied due to request throttling.", 400};
static const gen_err_t e_throttle_user = {"Throttling.User", "Request was denied due to user flow control.", 400};
static const gen_err_t e_unavail = {"ServiceUnavailable",
    "The request has failed due to a temporary failure of the server.", 503};
static const gen_err_t e_user_nf = {"EntityNotExist.User", "The user does not exist.", 404};
static const gen_err_t e_user_exists = {"EntityAlreadyExists.User", "The user already exists.", 409};
static const gen_err_t e_inst_nf = {"InvalidInstanceId.NotFound", "The specified InstanceId does not exist.", 404};
static const gen_err_t e_inst_status = {"IncorrectInstanceStatus",
    "The current status of the resource does not support this operation.", 403};
static const gen_err_t e_bucket_nf = {"NoSuchBucket", "The specified bucket does not exist.", 404};
static const gen_err_t e_db_nf = {"InvalidDBInstanceId.NotFound", "Specified instance does not exist.", 404};
static const gen_err_t e_key_nf = {"Forbidden.KeyNotFound", "The specified Key is not found.", 404};
static const gen_err_t e_quota = {"QuotaExceed.AccessKey", "The number of AccessKeys exceeds the limit of 2.", 400};

const gen_err_t *gen_pick_error(gen_rng_t *r, const gen_api_t *api, int ident_type)
{
    uint32_t u = gen_below(r, 100);
    /* Permission errors only happen to RAM users and roles: root may do anything. */
    if (u < 35 && ident_type != ID_ROOT)
        return api->svc == SVC_RAM ? &e_noperm : &e_forbidden;
    if (u < 55) {
        switch (api->svc) {
        case SVC_RAM:
            if (!strcmp(api->name, "CreateUser"))
                return &e_user_exists;
            if (!strcmp(api->name, "CreateAccessKey"))
                return &e_quota;
            return &e_user_nf;
        case SVC_ECS:
            if (api->res == RES_INSTANCE)
                return api->write && u & 1 ? &e_inst_status : &e_inst_nf;
            break;
        case SVC_OSS: return &e_bucket_nf;
        case SVC_RDS: return &e_db_nf;
        case SVC_KMS: return &e_key_nf;
        default: break;
        }
        return &e_invparam;
    }
    if (u < 75)
        return &e_invparam;
    if (u < 92)
        return u & 1 ? &e_throttle : &e_throttle_user;
    return &e_unavail;
}

const char *const gen_ua_browser[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.72",
};
const uint32_t gen_ua_browser_count = TK_ARRAY_LEN(gen_ua_browser);

const char *const gen_ua_tool[] = {
    "AlibabaCloud (Linux; amd64) Java/1.8.0_372 Core/4.6.4 HTTPClient/ApacheHttpClient",
    "AlibabaCloud (Linux; x86_64) Python/3.10.12 Core/2.13.36 python-requests/2.31.0",
    "Aliyun-CLI/3.0.188",
    "Terraform/1.6.4 (+https://www.terraform.io) terraform-provider-alicloud/1.213.0",
    "AlibabaCloud (linux; amd64) Go/1.21.4 Core/0.0.1 TeaDSL/1",
    "aliyun-sdk-nodejs/1.0.0 Node.js/v18.18.2",
    "ALIYUN-ANDROID-DEMO/2.0 Dalvik/2.1.0 (Linux; U; Android 13)",
};
const uint32_t gen_ua_tool_count = TK_ARRAY_LEN(gen_ua_tool);

const char *const gen_policies[] = {
    "AliyunECSReadOnlyAccess", "AliyunOSSReadOnlyAccess", "AliyunECSFullAccess",
    "AliyunVPCReadOnlyAccess", "AliyunRDSFullAccess", "AliyunLogReadOnlyAccess",
    "AliyunCloudMonitorReadOnlyAccess", "AliyunActionTrailReadOnlyAccess", "ReadOnlyAccess",
};
const uint32_t gen_policies_count = TK_ARRAY_LEN(gen_policies);
