//! Refused sessions: bad, expired, tampered and wrong-session tokens, foreign
//! or missing Origins, sessions that are not live, a wrong protocol version,
//! and a client that never says `Hello`. Each is closed with the PROTOCOL.md
//! close code and a reason naming the cause.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use podium_media::bot::{Bot, BotError};
use podium_media::core::wire::control::Hello;
use podium_media::core::{ClientMessage, Message};
use podium_media::{JoinTokenKey, SessionId, SfuHandle};

use crate::support::{ORIGIN, SESSION, Server, close_of, raw_connect};

fn refused(code: u64, prefix: &str) -> impl Fn(&BotError) -> bool + '_ {
    move |e| matches!(e, BotError::Closed { code: c, reason } if *c == code && reason.starts_with(prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_origins_are_refused_with_code_3() {
    let server = Server::start().await;
    let other_key = JoinTokenKey::generate();
    let expired = {
        let mut c = server.claims(1, 0, true);
        c.expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 1;
        server.key.sign(&c)
    };
    let tampered = {
        let t = server.token(1, 0, true);
        let (body, mac) = t.rsplit_once('.').unwrap();
        // Flip a character of the claims (still valid base64url).
        let mut body = body.to_owned().into_bytes();
        let i = body.len() - 3;
        body[i] = if body[i] == b'A' { b'B' } else { b'A' };
        format!("{}.{mac}", String::from_utf8(body).unwrap())
    };
    let wrong_session = {
        let mut c = server.claims(1, 0, true);
        c.session = SessionId(2);
        server.key.sign(&c)
    };
    let table: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("expired", expired, Some(ORIGIN), "token_expired"),
        ("tampered", tampered, Some(ORIGIN), "token_bad_signature"),
        (
            "other key",
            other_key.sign(&server.claims(1, 0, true)),
            Some(ORIGIN),
            "token_bad_signature",
        ),
        (
            "garbage",
            "not a token".into(),
            Some(ORIGIN),
            "token_malformed",
        ),
        ("missing", String::new(), Some(ORIGIN), "token_malformed"),
        (
            "wrong session",
            wrong_session,
            Some(ORIGIN),
            "token_wrong_session",
        ),
        (
            "foreign origin",
            server.token(1, 0, true),
            Some("https://evil.example"),
            "origin_refused",
        ),
        (
            "no origin",
            server.token(1, 0, true),
            None,
            "origin_refused",
        ),
    ];
    for (name, token, origin, reason) in table {
        let mut config = server.bot_config(1, 0, true);
        config.token = token;
        config.origin = origin.map(Into::into);
        let err = Bot::connect(config).await.expect_err(name);
        assert!(refused(3, reason)(&err), "{name}: {err}");
    }
    assert_eq!(server.handle.stats(SESSION).await.unwrap().connected, 0);
    // A good token still works afterwards.
    server.bot(1, 0, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_are_not_live_are_refused() {
    let server = Server::start().await;
    let not_live = SessionId(9);
    let mut claims = server.claims(1, 0, false);
    claims.session = not_live;
    let mut config = server.bot_config(1, 0, false);
    config.url = server.handle.session_url("127.0.0.1", not_live);
    config.token = server.key.sign(&claims);
    let err = Bot::connect(config.clone()).await.unwrap_err();
    assert!(refused(3, "session_not_live")(&err), "{err}");

    // Open it: accepted; close it: the participant is disconnected with code 0.
    server.handle.open_session(not_live).unwrap();
    let bot = Bot::connect(config.clone()).await.unwrap();
    server.handle.close_session(not_live).await.unwrap();
    assert!(matches!(
        bot.closed().await,
        BotError::Closed { code: 0, .. }
    ));
    assert!(refused(3, "session_not_live")(
        &Bot::connect(config).await.unwrap_err()
    ));
    assert_eq!(server.handle.live_sessions(), vec![SESSION]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_version_and_missing_hello_close_the_session() {
    let server = Server::start_with(|c| c.hello_timeout = Duration::from_millis(300)).await;
    let hashes = server.handle.cert_hashes().all();

    // Hello with version 2: close code 2.
    let (_e, conn) = raw_connect(&server.url(), hashes.clone(), Some(ORIGIN))
        .await
        .unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap().await.unwrap();
    let hello = ClientMessage::Hello(Hello {
        version: 1,
        token: server.token(1, 0, false),
    });
    let mut bytes = hello.to_bytes().unwrap();
    let json_start = 5;
    let body = String::from_utf8(bytes[json_start..].to_vec())
        .unwrap()
        .replace("\"version\":1", "\"version\":2");
    bytes.truncate(json_start);
    bytes.extend_from_slice(body.as_bytes());
    let len = (bytes.len() - 4) as u32;
    bytes[..4].copy_from_slice(&len.to_be_bytes());
    send.write_all(&bytes).await.unwrap();
    let (code, reason) = close_of(&conn, "refusal").await;
    assert_eq!(
        (code, reason.starts_with("unsupported_version")),
        (2, true),
        "{reason}"
    );

    // No Hello at all: closed with code 1 after the deadline.
    let (_e, conn) = raw_connect(&server.url(), hashes.clone(), Some(ORIGIN))
        .await
        .unwrap();
    let (code, reason) = close_of(&conn, "refusal").await;
    assert_eq!(
        (code, reason.starts_with("hello_timeout")),
        (1, true),
        "{reason}"
    );

    // A first message that is not Hello: code 1.
    let (_e, conn) = raw_connect(&server.url(), hashes.clone(), Some(ORIGIN))
        .await
        .unwrap();
    let (mut send, _recv) = conn.open_bi().await.unwrap().await.unwrap();
    let ping = ClientMessage::Ping(podium_media::core::wire::control::Ping { nonce: 1 });
    send.write_all(&ping.to_bytes().unwrap()).await.unwrap();
    let (code, reason) = close_of(&conn, "refusal").await;
    assert_eq!(
        (code, reason.starts_with("invalid_body")),
        (1, true),
        "{reason}"
    );

    // A path that is not a live session URL is not found.
    let wrong = format!(
        "https://127.0.0.1:{}/elsewhere",
        server.handle.local_addr().port()
    );
    assert!(raw_connect(&wrong, hashes, Some(ORIGIN)).await.is_err());
    let _: fn(SessionId) -> String = SfuHandle::session_path;
}
