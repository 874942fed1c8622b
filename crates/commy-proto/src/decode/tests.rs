//! Each decode error says what a person needs to fix the message, and carries the `id` whenever it could be read.

use crate::{decode_reply, decode_request, DecodeErrorKind, Encoding};
use serde_json::json;

/// The error message and recovered `id` for a JSON request.
fn json_error(text: &str) -> (String, Option<u64>) {
    let err = decode_request(text.as_bytes(), Encoding::Json).expect_err(text);
    (err.to_string(), err.id())
}

/// The same for a MessagePack request built from a JSON value.
fn msgpack_error(value: serde_json::Value) -> (String, Option<u64>) {
    let bytes = rmp_serde::to_vec_named(&value).unwrap();
    let err = decode_request(&bytes, Encoding::MsgPack).expect_err("should not decode");
    (err.to_string(), err.id())
}

#[test]
fn malformed_json_names_the_position() {
    assert_eq!(
        json_error("{]").0,
        "request is not valid JSON: key must be a string at line 1 column 2"
    );
    assert_eq!(
        json_error(r#"{"type": "#).0,
        "request is not valid JSON: EOF while parsing a value at line 1 column 9"
    );
    assert_eq!(
        json_error("{}x").0,
        "request is not valid JSON: trailing characters at line 1 column 3"
    );
    assert_eq!(json_error("").0, "request is not valid JSON: the message is empty");
}

#[test]
fn the_brief_example_of_malformed_json() {
    assert_eq!(
        json_error("{ ]").0,
        "request is not valid JSON: key must be a string at line 1 column 3"
    );
    assert_eq!(
        json_error("  x").0,
        "request is not valid JSON: expected value at line 1 column 3"
    );
}

#[test]
fn malformed_msgpack_says_what_is_wrong() {
    let err = |bytes: &[u8]| decode_request(bytes, Encoding::MsgPack).unwrap_err().to_string();
    assert_eq!(err(&[]), "request is not valid MessagePack: the message is empty");
    assert_eq!(err(&[0x81]), "request is not valid MessagePack: the message ends early");
    assert_eq!(
        err(&[0xc1]),
        "request is not valid MessagePack: byte 0xc1 is never used in MessagePack"
    );
    assert_eq!(
        err(&[0x80, 0x00, 0x00]),
        "request is not valid MessagePack: 2 bytes after the end of the message"
    );
}

#[test]
fn the_envelope_must_be_an_object_with_a_string_type() {
    let expected = "request is not a message: invalid type: sequence, expected an object with `type`, `data` and an \
                    optional `id`";
    assert_eq!(json_error("[1,2]").0, expected);
    assert_eq!(msgpack_error(json!([1, 2])).0, expected);
    assert_eq!(
        json_error(r#"{"data":{},"id":4}"#),
        (
            r#"request has no `type` field naming the message, as in {"type":"Heartbeat","data":{}}"#.into(),
            Some(4)
        )
    );
    assert_eq!(
        json_error(r#"{"type":5}"#).0,
        "`type` must be a string naming the message, got 5"
    );
    assert_eq!(
        json_error(r#"{"type":["Heartbeat"]}"#).0,
        "`type` must be a string naming the message, got an array"
    );
    assert_eq!(
        json_error(r#"{"type":"Heartbeat","type":"Heartbeat"}"#).0,
        "request is not a message: duplicate field `type`"
    );
}

#[test]
fn unknown_types_are_named() {
    assert_eq!(
        json_error(r#"{"type":"Foo","data":{},"id":1}"#),
        ("unknown message type 'Foo'".into(), Some(1))
    );
    assert_eq!(
        json_error(r#"{"type":"createservice","data":{}}"#).0,
        "unknown message type 'createservice' (did you mean 'CreateService'?)"
    );
    // A reply type is not a request.
    assert_eq!(
        json_error(r#"{"type":"VariableChanged","data":{}}"#).0,
        "unknown message type 'VariableChanged'"
    );
    assert_eq!(
        msgpack_error(json!({"type": "Foo", "id": 2})),
        ("unknown message type 'Foo'".into(), Some(2))
    );
}

#[test]
fn a_bad_id_is_refused_and_not_echoed() {
    let expected = |got: &str| format!("`id` must be an integer from 0 to 18446744073709551615, got {got}");
    assert_eq!(
        json_error(r#"{"type":"Heartbeat","data":{},"id":-1}"#),
        (expected("-1"), None)
    );
    assert_eq!(
        json_error(r#"{"type":"Heartbeat","data":{},"id":"7"}"#),
        (expected("\"7\""), None)
    );
    assert_eq!(
        json_error(r#"{"type":"Heartbeat","data":{},"id":1.5}"#),
        (expected("1.5"), None)
    );
    assert_eq!(
        json_error(r#"{"type":"Heartbeat","data":{},"id":18446744073709551616}"#).1,
        None
    );
    let ok = decode_request(br#"{"type":"Heartbeat","data":{},"id":null}"#, Encoding::Json).unwrap();
    assert_eq!(ok.id, None);
}

#[test]
fn missing_fields_name_the_field_and_the_message() {
    let text = r#"{"type":"CreateService","data":{"service_name":"s"},"id":7}"#;
    assert_eq!(
        json_error(text),
        ("missing field `tenant_id` in CreateService".into(), Some(7))
    );
    let value = json!({"type": "CreateService", "data": {"service_name": "s"}, "id": 7});
    assert_eq!(
        msgpack_error(value),
        ("missing field `tenant_id` in CreateService".into(), Some(7))
    );
    // Without `data`, the first required field is missing.
    assert_eq!(
        json_error(r#"{"type":"ReadVariable"}"#).0,
        "missing field `service_id` in ReadVariable"
    );
    assert_eq!(
        json_error(r#"{"type":"Authenticate","data":{"client_version":"1","method":"api_key"}}"#).0,
        "missing field `key` in Authenticate"
    );
    assert_eq!(
        json_error(r#"{"type":"Authenticate","data":{"client_version":"1"}}"#).0,
        "missing field `method` in Authenticate"
    );
}

#[test]
fn wrong_field_types_name_the_field() {
    let text = r#"{"type":"AllocateVariable","data":{"service_id":"s","variable_name":"v","capacity":"big"},"id":3}"#;
    assert_eq!(
        json_error(text),
        (
            r#"invalid type: string "big", expected u32 in field `capacity` of AllocateVariable"#.into(),
            Some(3)
        )
    );
    let value =
        json!({"type": "AllocateVariable", "data": {"service_id": "s", "variable_name": "v", "capacity": "big"}});
    assert_eq!(
        msgpack_error(value).0,
        "invalid type: a string in field `capacity` of AllocateVariable"
    );
    assert_eq!(
        json_error(r#"{"type":"AllocateVariable","data":{"service_id":"s","variable_name":"v","type":"u32"}}"#).0,
        "unknown variant `u32`, expected one of `bytes`, `u64`, `i64`, `f64`, `bool`, `string`, `json` in field \
         `type` of AllocateVariable"
    );
    assert_eq!(
        json_error(r#"{"type":"CreateApiKey","data":{"tenant_id":"t","name":"n","permissions":["read","root"]}}"#).0,
        "unknown variant `root`, expected one of `admin`, `create_service`, `delete_service`, `read`, `write` in \
         field `permissions[1]` of CreateApiKey"
    );
    assert_eq!(
        json_error(r#"{"type":"Authenticate","data":{"client_version":"1","method":"password"}}"#).0,
        "unknown variant `password`, expected one of `api_key`, `jwt`, `client_cert` in Authenticate"
    );
}

#[test]
fn bytes_must_be_numbers_0_to_255() {
    let text = r#"{"type":"WriteVariable","data":{"service_id":"s","variable_name":"v","data":[1,300]}}"#;
    assert_eq!(
        json_error(text).0,
        "invalid value: integer `300`, expected u8 in field `data[1]` of WriteVariable"
    );
    let text = r#"{"type":"WriteVariable","data":{"service_id":"s","variable_name":"v","data":"aGk="}}"#;
    assert_eq!(
        json_error(text).0,
        r#"invalid type: string "aGk=", expected bytes (an array of integers 0-255, or MessagePack bin) in field `data` of WriteVariable"#
    );
}

#[test]
fn the_kind_is_available_to_programs() {
    let err = decode_request(br#"{"type":"Nope"}"#, Encoding::Json).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnknownType {
            name: "Nope".into(),
            did_you_mean: None
        }
    );
    let reply = err.to_reply();
    assert_eq!(reply.id, None);
}

#[test]
fn replies_say_reply() {
    let err = decode_reply(b"{", Encoding::Json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reply is not valid JSON: EOF while parsing an object at line 1 column 1"
    );
    let err = decode_reply(
        br#"{"type":"Error","data":{"code":"NOPE","message":""},"id":3}"#,
        Encoding::Json,
    )
    .unwrap_err();
    assert_eq!(err.id(), Some(3));
    assert!(err.to_string().starts_with("unknown variant `NOPE`"), "{err}");
}

#[test]
fn empty_payloads_accept_missing_null_or_empty_data() {
    for text in [
        r#"{"type":"ListTenants"}"#,
        r#"{"type":"ListTenants","data":null}"#,
        r#"{"type":"ListTenants","data":{}}"#,
    ] {
        assert!(decode_request(text.as_bytes(), Encoding::Json).is_ok(), "{text}");
    }
    for value in [
        json!({"type": "Heartbeat"}),
        json!({"type": "Heartbeat", "data": null}),
        json!({"type": "Heartbeat", "data": {}}),
    ] {
        let bytes = rmp_serde::to_vec_named(&value).unwrap();
        assert!(decode_request(&bytes, Encoding::MsgPack).is_ok(), "{value}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let text = r#"{"type":"CreateTenant","data":{"tenant_id":"t","tenant_name":"n","note":1},"trace":"x"}"#;
    assert!(decode_request(text.as_bytes(), Encoding::Json).is_ok());
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let json = format!(r#"{{"type":"WriteVariable","data":{{"service_id":"s","variable_name":"v","value":{deep}}}}}"#);
    let err = decode_request(json.as_bytes(), Encoding::Json).unwrap_err().to_string();
    assert!(err.starts_with("recursion limit exceeded"), "{err}");
    assert!(err.ends_with("of WriteVariable"), "{err}");

    let mut packed = vec![0x82, 0xa4, b't', b'y', b'p', b'e', 0xa9];
    packed.extend(b"Heartbeat");
    packed.extend([0xa4, b'd', b'a', b't', b'a']);
    packed.extend(std::iter::repeat_n(0x91, 100_000));
    packed.push(0xc0);
    let err = decode_request(&packed, Encoding::MsgPack).unwrap_err().to_string();
    assert_eq!(
        err,
        "request is not valid MessagePack: nested more than 128 levels deep"
    );
}

#[test]
fn announced_lengths_do_not_allocate_before_the_data_arrives() {
    // A bin32, an array32 and a map32 that each announce 4 GiB and then end.
    for header in [
        [0xc6, 0xff, 0xff, 0xff, 0xff],
        [0xdd, 0xff, 0xff, 0xff, 0xff],
        [0xdf, 0xff, 0xff, 0xff, 0xff],
    ] {
        let mut packed = vec![0x82, 0xa4, b't', b'y', b'p', b'e', 0xad];
        packed.extend(b"WriteVariable");
        packed.extend([0xa4, b'd', b'a', b't', b'a']);
        packed.extend(header);
        let err = decode_request(&packed, Encoding::MsgPack).unwrap_err().to_string();
        assert_eq!(err, "request is not valid MessagePack: the message ends early");
    }
}
