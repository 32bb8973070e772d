"""Signs test images with a real C2PA manifest, using a throwaway CA made on the spot."""

import datetime
import io

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SynthSpot tests")])


def _key_usage(signing_only: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=not signing_only, crl_sign=not signing_only,
                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                         key_agreement=False, encipher_only=False, decipher_only=False)


def _certificate(subject, issuer, public_key, signing_key, ca: bool):
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_key_usage(signing_only=not ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if not ca:
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                                  critical=False))
    return builder.sign(signing_key, hashes.SHA256())


def _signer() -> c2pa.Signer:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(_name("Test CA"), _name("Test CA"), ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(_name("Test signer"), ca.subject, key.public_key(), ca_key, ca=False)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private, None))


def sign_image(data: bytes, mime: str, generator: str = "TestGen", source_type: str | None = AI_SOURCE_TYPE) -> bytes:
    action = {"action": "c2pa.created"}
    if source_type:
        action["digitalSourceType"] = source_type
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "image",
        "format": mime,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(_signer(), mime, io.BytesIO(data), out)
    return out.getvalue()
