//! Messages exactly as PROTOCOL.md and docs/protocol.md spell them, in both directions.

use commy_proto::*;
use serde_json::json;

/// Checks that `reply` encodes to exactly `text`, and that `text` decodes to `reply`.
fn golden_reply(reply: Reply, text: &str) {
    assert_eq!(
        encode_reply(&reply, Encoding::Json).unwrap(),
        Frame::Text(text.to_owned())
    );
    assert_eq!(decode_reply(text.as_bytes(), Encoding::Json).unwrap(), reply);
}

/// Checks that `request` encodes to exactly `text`, and that `text` decodes to `request`.
fn golden_request(request: Request, text: &str) {
    assert_eq!(
        encode_request(&request, Encoding::Json).unwrap(),
        Frame::Text(text.to_owned())
    );
    assert_eq!(decode_request(text.as_bytes(), Encoding::Json).unwrap(), request);
}

#[test]
fn error() {
    golden_reply(
        Reply::error(None, ErrorCode::NotFound, "service 'x' does not exist in tenant 'y'"),
        r#"{"type":"Error","data":{"code":"NOT_FOUND","message":"service 'x' does not exist in tenant 'y'"}}"#,
    );
    golden_reply(
        Reply::error(Some(7), ErrorCode::LimitExceeded, "too many variables"),
        r#"{"type":"Error","data":{"code":"LIMIT_EXCEEDED","message":"too many variables"},"id":7}"#,
    );
}

#[test]
fn compare_and_set_and_its_conflict() {
    golden_request(
        Request::new(
            5,
            WriteVariable {
                service_id: "svc_1".into(),
                variable_name: "n".into(),
                data: None,
                value: Some(json!(8)),
                expected_version: Some(41),
            },
        ),
        r#"{"type":"WriteVariable","data":{"service_id":"svc_1","variable_name":"n","value":8,"expected_version":41},"id":5}"#,
    );
    let conflict = ErrorReply::conflict("variable 'n' is at version 42, not the expected 41", 42);
    golden_reply(
        Reply {
            id: Some(5),
            message: ServerMessage::Error(conflict.clone()),
        },
        r#"{"type":"Error","data":{"code":"CONFLICT","message":"variable 'n' is at version 42, not the expected 41","current_version":42},"id":5}"#,
    );
    // Both encodings carry `current_version`, and a reader that knows only `code` and `message` still decodes it.
    let reply = Reply {
        id: Some(5),
        message: ServerMessage::Error(conflict),
    };
    let packed = encode_reply(&reply, Encoding::MsgPack).unwrap().into_bytes();
    assert_eq!(decode_reply(&packed, Encoding::MsgPack).unwrap(), reply);
    #[derive(serde::Deserialize)]
    struct OlderError {
        code: String,
        message: String,
    }
    let older: OlderError = rmp_serde::from_slice::<serde_json::Value>(&packed)
        .map(|v| serde_json::from_value(v["data"].clone()).unwrap())
        .unwrap();
    assert_eq!((older.code.as_str(), older.message.is_empty()), ("CONFLICT", false));
}

#[test]
fn authenticate_with_an_api_key_and_a_jwt() {
    golden_request(
        Request::new(
            1,
            Authenticate {
                tenant_id: Some("acme".into()),
                client_version: "commy-client/0.1.0".into(),
                credential: Credential::ApiKey { key: "ck_123".into() },
            },
        ),
        r#"{"type":"Authenticate","data":{"tenant_id":"acme","client_version":"commy-client/0.1.0","method":"api_key","key":"ck_123"},"id":1}"#,
    );
    golden_request(
        Request::without_id(Authenticate {
            tenant_id: None,
            client_version: "js/1".into(),
            credential: Credential::Jwt { token: "h.p.s".into() },
        }),
        r#"{"type":"Authenticate","data":{"client_version":"js/1","method":"jwt","token":"h.p.s"}}"#,
    );
}

#[test]
fn authentication_result() {
    golden_reply(
        Reply::to(
            Some(1),
            AuthenticationResult {
                success: true,
                message: "authenticated to tenant 'acme'".into(),
                server_version: "0.1.0".into(),
                permissions: vec![Permission::Read, Permission::Write],
                local_socket: Some("/var/lib/commy/commy.sock".into()),
            },
        ),
        r#"{"type":"AuthenticationResult","data":{"success":true,"message":"authenticated to tenant 'acme'","server_version":"0.1.0","permissions":["read","write"],"local_socket":"/var/lib/commy/commy.sock"},"id":1}"#,
    );
}

#[test]
fn empty_payloads_are_empty_objects() {
    golden_request(
        Request::new(2, ListTenants {}),
        r#"{"type":"ListTenants","data":{},"id":2}"#,
    );
    golden_request(
        Request::without_id(Heartbeat::default()),
        r#"{"type":"Heartbeat","data":{}}"#,
    );
}

#[test]
fn services() {
    golden_request(
        Request::new(
            7,
            CreateService {
                tenant_id: "acme".into(),
                service_name: "sensors".into(),
            },
        ),
        r#"{"type":"CreateService","data":{"tenant_id":"acme","service_name":"sensors"},"id":7}"#,
    );
    golden_reply(
        Reply::to(
            Some(7),
            ServiceInfo {
                service_id: "svc_1".into(),
                service_name: "sensors".into(),
                tenant_id: "acme".into(),
            },
        ),
        r#"{"type":"Service","data":{"service_id":"svc_1","service_name":"sensors","tenant_id":"acme"},"id":7}"#,
    );
}

#[test]
fn variables_carry_bytes_as_arrays_and_typed_values() {
    golden_request(
        Request::new(
            3,
            AllocateVariable {
                service_id: "svc_1".into(),
                variable_name: "temp".into(),
                initial_data: None,
                value: Some(json!(21.5)),
                capacity: None,
                value_type: Some(ValueType::F64),
                persistent: Some(true),
            },
        ),
        r#"{"type":"AllocateVariable","data":{"service_id":"svc_1","variable_name":"temp","value":21.5,"type":"f64","persistent":true},"id":3}"#,
    );
    golden_request(
        Request::new(
            4,
            WriteVariable {
                service_id: "svc_1".into(),
                variable_name: "raw".into(),
                data: Some(vec![1, 2, 255]),
                value: None,
                expected_version: None,
            },
        ),
        r#"{"type":"WriteVariable","data":{"service_id":"svc_1","variable_name":"raw","data":[1,2,255]},"id":4}"#,
    );
    golden_reply(
        Reply::to(
            Some(4),
            VariableData {
                service_id: "svc_1".into(),
                variable_name: "count".into(),
                data: vec![7, 0, 0, 0, 0, 0, 0, 0],
                version: 2,
                value: Some(json!(7)),
            },
        ),
        r#"{"type":"VariableData","data":{"service_id":"svc_1","variable_name":"count","data":[7,0,0,0,0,0,0,0],"version":2,"value":7},"id":4}"#,
    );
    golden_reply(
        Reply::to(
            None,
            VariableList {
                variables: vec![VariableInfo {
                    variable_name: "count".into(),
                    value_type: ValueType::U64,
                    capacity: 8,
                    len: 8,
                    version: 2,
                    persistent: false,
                }],
            },
        ),
        r#"{"type":"VariableList","data":{"variables":[{"variable_name":"count","type":"u64","capacity":8,"len":8,"version":2,"persistent":false}]}}"#,
    );
}

#[test]
fn pushes_have_no_id() {
    golden_reply(
        Reply::push(VariableChanged {
            service_id: "svc_1".into(),
            variable_name: "flag".into(),
            data: vec![1],
            version: 9,
            value: Some(json!(true)),
        }),
        r#"{"type":"VariableChanged","data":{"service_id":"svc_1","variable_name":"flag","data":[1],"version":9,"value":true}}"#,
    );
    golden_reply(
        Reply::push(Disconnected {
            reason: "server shutting down".into(),
        }),
        r#"{"type":"Disconnected","data":{"reason":"server shutting down"}}"#,
    );
    let ended = Reply::push(SubscriptionEnded {
        service_id: "svc_1".into(),
        variable_name: "flag".into(),
        reason: "the credential was revoked".into(),
    });
    assert!(ended.is_push());
    golden_reply(
        ended,
        r#"{"type":"SubscriptionEnded","data":{"service_id":"svc_1","variable_name":"flag","reason":"the credential was revoked"}}"#,
    );
    let moved = Reply::push(ServiceMoved {
        service_id: "svc_1".into(),
    });
    assert!(moved.is_push());
    golden_reply(moved, r#"{"type":"ServiceMoved","data":{"service_id":"svc_1"}}"#);
}

#[test]
fn msgpack_uses_named_maps_and_bin() {
    let request = Request::new(
        1,
        WriteVariable {
            service_id: "s".into(),
            variable_name: "v".into(),
            data: Some(vec![0xab]),
            value: None,
            expected_version: None,
        },
    );
    let packed = encode_request(&request, Encoding::MsgPack).unwrap().into_bytes();
    let mut expected = vec![0x83, 0xa4];
    expected.extend(b"type");
    expected.push(0xad);
    expected.extend(b"WriteVariable");
    expected.push(0xa4);
    expected.extend(b"data");
    expected.extend([0x83, 0xaa]);
    expected.extend(b"service_id");
    expected.extend([0xa1, b's', 0xad]);
    expected.extend(b"variable_name");
    expected.extend([0xa1, b'v', 0xa4]);
    expected.extend(b"data");
    expected.extend([0xc4, 0x01, 0xab, 0xa2]);
    expected.extend(b"id");
    expected.push(0x01);
    assert_eq!(packed, expected);
}

#[test]
fn audit_query_and_log() {
    golden_request(
        Request::new(
            5,
            QueryAudit {
                tenant_id: Some("acme".into()),
                since_ms: Some(1_700_000_000_000),
                limit: Some(50),
            },
        ),
        r#"{"type":"QueryAudit","data":{"tenant_id":"acme","since_ms":1700000000000,"limit":50},"id":5}"#,
    );
    golden_request(
        Request::new(6, QueryAudit::default()),
        r#"{"type":"QueryAudit","data":{},"id":6}"#,
    );
    golden_reply(
        Reply::to(
            Some(5),
            AuditLog {
                entries: vec![AuditLogEntry {
                    seq: 12,
                    at_ms: 1_700_000_000_123,
                    actor: "unknown".into(),
                    tenant_id: Some("acme".into()),
                    peer: Some("192.0.2.7:50312".into()),
                    action: "auth_failure".into(),
                    target: "acme".into(),
                    outcome: "denied".into(),
                }],
            },
        ),
        r#"{"type":"AuditLog","data":{"entries":[{"seq":12,"at_ms":1700000000123,"actor":"unknown","tenant_id":"acme","peer":"192.0.2.7:50312","action":"auth_failure","target":"acme","outcome":"denied"}]},"id":5}"#,
    );
}

#[test]
fn scoped_keys_and_jwt_keys() {
    golden_request(
        Request::new(
            8,
            CreateApiKey {
                tenant_id: "acme".into(),
                name: "dashboard".into(),
                permissions: vec![Permission::Read, Permission::Write],
                services: None,
                read_services: Some(vec!["sensors/*".into()]),
                write_services: Some(vec!["sensors/out".into()]),
            },
        ),
        r#"{"type":"CreateApiKey","data":{"tenant_id":"acme","name":"dashboard","permissions":["read","write"],"read_services":["sensors/*"],"write_services":["sensors/out"]},"id":8}"#,
    );
    golden_request(
        Request::new(
            9,
            SetJwtKey {
                tenant_id: "acme".into(),
                alg: JwtAlgorithm::EdDSA,
                key: "-----BEGIN PUBLIC KEY-----".into(),
                issuer: Some("https://id.example".into()),
                audience: Some("commy".into()),
            },
        ),
        r#"{"type":"SetJwtKey","data":{"tenant_id":"acme","alg":"EdDSA","key":"-----BEGIN PUBLIC KEY-----","issuer":"https://id.example","audience":"commy"},"id":9}"#,
    );
}
