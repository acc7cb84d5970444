//! TCP transport (RFC 3261 §18.3): a listener that accepts connections and an outgoing
//! connector; both hand the stream to `stream.rs`.

use super::stream::{self, ConnectionHandle};
use super::{TransportError, TransportKind, Transports};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

pub(super) async fn listen(
    addr: SocketAddr,
    owner: Transports,
) -> Result<SocketAddr, TransportError> {
    let bind_err = |source| TransportError::Bind {
        kind: TransportKind::Tcp,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    tokio::spawn(accept_loop(listener, local, owner));
    Ok(local)
}

async fn accept_loop(listener: TcpListener, local: SocketAddr, owner: Transports) {
    let mut shutdown = owner.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((socket, remote)) => {
                let _ = socket.set_nodelay(true);
                stream::spawn(socket, TransportKind::Tcp, local, remote, owner.clone());
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

pub(super) async fn connect(
    remote: SocketAddr,
    owner: Transports,
) -> Result<ConnectionHandle, TransportError> {
    let timeout = owner.config().connect_timeout;
    let socket = tokio::time::timeout(timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::ConnectTimeout(remote))?
        .map_err(|source| TransportError::Io {
            kind: TransportKind::Tcp,
            remote,
            source,
        })?;
    let _ = socket.set_nodelay(true);
    let local = socket.local_addr().map_err(|source| TransportError::Io {
        kind: TransportKind::Tcp,
        remote,
        source,
    })?;
    Ok(stream::spawn(
        socket,
        TransportKind::Tcp,
        local,
        remote,
        owner,
    ))
}
