//! Certificate rotation keeps existing sessions on the old certificate while
//! new sessions get the new one; pages pass both hashes (current and next).

use podium_media::bot::Bot;

use crate::support::{Server, T};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_existing_sessions_and_new_ones_use_the_new_cert() {
    let server = Server::start().await;
    let before = server.handle.cert_hashes();
    let next = before
        .next
        .expect("self-signed certificates come with a next one");
    let only_old = |participant| {
        let mut c = server.bot_config(participant, 0, false);
        c.cert_hashes = vec![before.current];
        c
    };
    let publisher = server.publisher(1, 0).await;
    let watcher = Bot::connect(only_old(2)).await.unwrap();
    let video = publisher.video_track();
    watcher
        .wait_until("video", T, |s| s.track(video).frames > 0)
        .await
        .unwrap();

    let after = server.handle.rotate_certificate().await.unwrap();
    assert_eq!(after.current, next);
    assert_ne!(after.next, Some(next));

    // The existing session keeps flowing.
    let n = watcher.stats().track(video).frames;
    watcher
        .wait_until("more video after rotation", T, |s| {
            s.track(video).frames >= n + 30
        })
        .await
        .unwrap();
    // New sessions are served the new certificate: a client that only trusts
    // the old one fails, one with the hashes a page got before rotation
    // (current + next) or after it succeeds.
    assert!(Bot::connect(only_old(3)).await.is_err());
    let mut page_before = server.bot_config(4, 0, false);
    page_before.cert_hashes = before.all();
    let late = Bot::connect(page_before).await.unwrap();
    late.wait_until("video", T, |s| s.track(video).frames > 0)
        .await
        .unwrap();
    Bot::connect(server.bot_config(5, 0, false)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let identity = wtransport::Identity::self_signed(["localhost", "127.0.0.1"]).unwrap();
    identity
        .certificate_chain()
        .store_pemfile(&cert)
        .await
        .unwrap();
    identity
        .private_key()
        .store_secret_pemfile(&key)
        .await
        .unwrap();
    let expected =
        podium_media::CertHash(*identity.certificate_chain().as_slice()[0].hash().as_ref());

    let server = Server::start_with(|c| {
        c.certificate = podium_media::CertificateConfig::Files {
            cert_pem: cert,
            key_pem: key,
        };
    })
    .await;
    let hashes = server.handle.cert_hashes();
    assert_eq!((hashes.current, hashes.next), (expected, None));
    server.bot(1, 0, false).await;
    // Rotation re-reads the files (e.g. after an ACME renewal).
    assert_eq!(
        server.handle.rotate_certificate().await.unwrap().current,
        expected
    );
}
