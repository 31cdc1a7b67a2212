"""Serving off loopback: the token rule, TLS with a self-signed certificate
made here, and the request size limit derived from the environment spec."""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import grpc
import numpy as np
import pytest

from seed_stac import actor
from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import client, codec, server, testing
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc


@pytest.mark.parametrize('address, loopback', [('127.0.0.1:8686', True), ('127.3.4.5:1', True),
                                               ('localhost:0', True), ('[::1]:9', True),
                                               ('0.0.0.0:8686', False), ('10.0.0.2:1', False),
                                               ('[::]:1', False), ('learner:8686', False)])
def test_is_loopback(address, loopback):
  assert server.is_loopback(address) == loopback


def test_off_loopback_needs_a_token_or_insecure():
  server.check_exposure('127.0.0.1:0', None, tls=False, insecure=False)
  with pytest.raises(ValueError, match='without a token .* SEED_STAC_TOKEN .* --insecure'):
    server.check_exposure('0.0.0.0:8686', None, tls=False, insecure=False)
  server.check_exposure('0.0.0.0:8686', None, tls=False, insecure=True)
  server.check_exposure('0.0.0.0:8686', 's3cret', tls=True, insecure=False)


def _self_signed(tmp_path, name='localhost'):
  """A CA-less self-signed certificate for `name` (and 127.0.0.1): PEM paths."""
  key = ec.generate_private_key(ec.SECP256R1())
  subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
  now = datetime.datetime.now(datetime.timezone.utc)
  cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(
      key.public_key()).serial_number(
          x509.random_serial_number()).not_valid_before(now - datetime.timedelta(
              minutes=1)).not_valid_after(now + datetime.timedelta(days=1)).add_extension(
                  x509.SubjectAlternativeName(
                      [x509.DNSName(name),
                       x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                  critical=False).add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                                critical=True).sign(key, hashes.SHA256()))
  cert_path, key_path = tmp_path / f'{name}.crt', tmp_path / f'{name}.key'
  cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
  key_path.write_bytes(
      key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
  return str(cert_path), str(key_path)


def test_tls_actor_trains_and_plaintext_or_wrong_ca_cannot_connect(tmp_path):
  cert, key = _self_signed(tmp_path)
  learner = testing.FakeLearner(env_batch_size=2, done_after_steps=5)
  serving = testing.ServerThread(learner, token='t0k', tls=server.TlsFiles.read(cert, key))
  try:
    result = actor.run_actor(serving.address,
                             0,
                             token='t0k',
                             tls=client.TlsTrust.read(cert),
                             max_reconnect_seconds=10)
    assert result.reason == 'training_done' and result.env_steps == 8
    # Plaintext against a TLS port: no connection, the actor gives up.
    with pytest.raises(actor.LearnerUnavailableError):
      actor.run_actor(serving.address, 1, token='t0k', max_reconnect_seconds=1.0)
    other_ca, _ = _self_signed(tmp_path, name='other')
    with pytest.raises(actor.LearnerUnavailableError):
      actor.run_actor(serving.address,
                      2,
                      token='t0k',
                      tls=client.TlsTrust.read(other_ca),
                      max_reconnect_seconds=1.0)
    # The certificate names localhost; an override lets an actor dial another name.
    channel = client.open_channel(f'127.0.0.1:{serving.port}',
                                  client.TlsTrust.read(cert, server_name='localhost'))
    assert client.handshake(channel, 3, 'r', 't0k', 10).actor_id == 3
    channel.close()
  finally:
    serving.stop()
  assert [a for a, _ in learner.handshakes] == [0, 3]


def test_step_limit_fits_a_full_atari_batch_and_refuses_more():
  shape, num_envs = (84, 84), 32
  limit = server.step_message_bytes(shape, 'uint8', num_envs)
  full = codec.StepMessage.of(7, 'r' * 32,
                              np.arange(num_envs, dtype=np.int32) + 7 * num_envs,
                              BatchStep.first(np.full((num_envs,) + shape, 255,
                                                      np.uint8))).to_proto()
  # The batch plus 64 KiB of slack (the old fixed limit was 256 MiB).
  assert full.ByteSize() <= limit <= full.ByteSize() + 65 * 1024
  # A server with that limit refuses a request twice that size before reading it.
  learner = testing.FakeLearner(env_batch_size=2)
  serving = testing.ServerThread(learner, max_message_bytes=limit)
  try:
    channel = client.open_channel(serving.address)
    client.handshake(channel, 0, 'r', None, 10)
    big = pb.StepRequest(actor_id=0,
                         run_id='r',
                         observation=codec.encode_tensor(np.zeros(2 * limit, np.uint8)))
    call = pb_grpc.LearnerServiceStub(channel).Stream(iter([big]))
    with pytest.raises(grpc.RpcError) as error:
      next(call)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    channel.close()
  finally:
    serving.stop()
