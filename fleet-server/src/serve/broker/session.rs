//! One client connection through the front: read its CONNECT and authenticate it (`gate.rs`),
//! connect to the inner broker as the same client id with the inner secret, then relay. What
//! the broker sends goes to the client as it is (it only sends what a permitted subscription
//! matched); every packet the client sends is framed with rumqttc's MQTT codec and checked
//! first — a PUBLISH must be on a topic the client may publish on, a SUBSCRIBE may only name
//! filters it may read, a second CONNECT is a protocol violation — and the first violation
//! closes the connection. MQTT 3.1.1 has no way to refuse one PUBLISH, and Mosquitto's silent
//! drop would let a client probe the rules unseen; closing is what the client notices.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::{self, FixedHeader, PacketType};
use rumqttc::{ConnAck, Connect, Login, Publish, Subscribe};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::acl;
use super::gate::{Gate, Refused};

/// A client that has not sent its CONNECT within this long is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Relays one client until either side closes; `certificate_cn` is the common name of its
/// TLS client certificate, when it presented one.
pub async fn relay<S>(
    client: S,
    certificate_cn: Option<String>,
    gate: std::sync::Arc<Gate>,
) -> Result<(), Refused>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let mut buf = BytesMut::with_capacity(4096);
    let (header, frame) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        read_frame(&mut from_client, &mut buf, gate.max_packet),
    )
    .await
    .map_err(|_| Refused::Malformed("no CONNECT within 10 s".into()))??;
    if header.packet_type().ok() != Some(PacketType::Connect) {
        return Err(Refused::Malformed(
            "the first packet is not a CONNECT".into(),
        ));
    }
    let connect = Connect::read(header, frame).map_err(malformed)?;
    let checked = {
        let (gate, connect) = (gate.clone(), connect.clone());
        tokio::task::spawn_blocking(move || {
            let device = gate.authenticate(&connect, certificate_cn.as_deref())?;
            match &connect.last_will {
                Some(will) if !acl::may_publish(&device, &will.topic) => Err(Refused::Publish {
                    device,
                    topic: will.topic.clone(),
                }),
                _ => Ok(device),
            }
        })
        .await
        .map_err(|e| Refused::Io(std::io::Error::other(e)))?
    };
    let device = match checked {
        Ok(device) => device,
        Err(refused) => {
            let mut out = BytesMut::new();
            if ConnAck::new(refused.code(), false).write(&mut out).is_ok() {
                let _ = to_client.write_all(&out).await;
                let _ = to_client.flush().await;
            }
            return Err(refused);
        }
    };
    let mut upstream = TcpStream::connect(gate.inner).await?;
    let _ = upstream.set_nodelay(true);
    let mut inner = connect;
    inner.login = Some(Login::new(device.clone(), gate.secret.clone()));
    let mut out = BytesMut::new();
    inner.write(&mut out).map_err(malformed)?;
    upstream.write_all(&out).await?;
    gate.stats
        .accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (mut from_broker, mut to_broker) = upstream.into_split();
    let down = tokio::io::copy(&mut from_broker, &mut to_client);
    let up = forward(
        &mut from_client,
        &mut buf,
        &mut to_broker,
        &device,
        gate.max_packet,
    );
    tokio::select! {
        result = down => result.map(drop).map_err(Refused::from),
        result = up => result,
    }
}

/// Relays the client's packets to the broker, each checked first, until the first refusal.
async fn forward<R, W>(
    from_client: &mut R,
    buf: &mut BytesMut,
    to_broker: &mut W,
    device: &str,
    max_packet: usize,
) -> Result<(), Refused>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let (header, frame) = read_frame(from_client, buf, max_packet).await?;
        check(device, header, &frame)?;
        to_broker.write_all(&frame).await?;
    }
}

/// Whether `device` may send this packet.
fn check(device: &str, header: FixedHeader, frame: &Bytes) -> Result<(), Refused> {
    match header.packet_type().map_err(malformed)? {
        PacketType::Publish => {
            let publish = Publish::read(header, frame.clone()).map_err(malformed)?;
            if !acl::may_publish(device, &publish.topic) {
                return Err(Refused::Publish {
                    device: device.to_string(),
                    topic: publish.topic.chars().take(200).collect(),
                });
            }
        }
        PacketType::Subscribe => {
            let subscribe = Subscribe::read(header, frame.clone()).map_err(malformed)?;
            if let Some(bad) = subscribe
                .filters
                .iter()
                .find(|f| !acl::may_subscribe(device, &f.path))
            {
                return Err(Refused::Subscribe {
                    device: device.to_string(),
                    filter: bad.path.chars().take(200).collect(),
                });
            }
        }
        PacketType::Connect => {
            return Err(Refused::Malformed("a second CONNECT".into()));
        }
        // Acks, unsubscribes, pings, disconnect: nothing in them to authorise.
        _ => {}
    }
    Ok(())
}

/// The next whole MQTT packet from `reader`: its fixed header and all its bytes.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max_packet: usize,
) -> Result<(FixedHeader, Bytes), Refused> {
    loop {
        match mqttbytes::check(buf.iter(), max_packet) {
            Ok(header) => {
                let frame = buf.split_to(header.frame_length()).freeze();
                return Ok((header, frame));
            }
            Err(mqttbytes::Error::InsufficientBytes(_)) => {
                if reader.read_buf(buf).await? == 0 {
                    return Err(Refused::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
            }
            Err(e) => return Err(malformed(e)),
        }
    }
}

fn malformed(e: mqttbytes::Error) -> Refused {
    Refused::Malformed(e.to_string())
}
