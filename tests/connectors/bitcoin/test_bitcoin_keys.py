"""Address derivation pinned by the published BIP44/49/84/86 test vectors (mnemonic "abandon" x11 +
"about"), and the credential's bad paths (invalid or private keys, wrong network, bad options)."""

from __future__ import annotations

import pytest
from embit import bip32, bip39, script
from embit.networks import NETWORKS

from txsync.connectors.bitcoin import WalletKeys
from txsync.errors import ConfigurationError

MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
YPUB = "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP"
XPUB44 = "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"
XPUB86 = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"


def test_bip84_vectors() -> None:
    keys = WalletKeys.parse(ZPUB)
    assert (keys.kind, keys.network, keys.script_type) == ("xpub", "mainnet", "p2wpkh")
    assert keys.address(0, 0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert keys.address(0, 1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert keys.address(1, 0) == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_bip49_vector() -> None:
    keys = WalletKeys.parse(YPUB)
    assert keys.script_type == "p2sh-p2wpkh"
    assert keys.address(0, 0) == "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf"


def test_bip44_vector() -> None:
    keys = WalletKeys.parse(XPUB44)
    assert keys.script_type == "p2pkh"
    assert keys.address(0, 0) == "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"


def test_bip86_vectors_need_the_script_type() -> None:
    keys = WalletKeys.parse(XPUB86, script_type="p2tr")
    assert keys.address(0, 0) == "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    assert keys.address(1, 0) == "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7"
    assert WalletKeys.parse(XPUB86, script_type="taproot").address(0, 0) == keys.address(0, 0)
    # Without the script type the plain xpub prefix means P2PKH: other addresses, no error.
    assert WalletKeys.parse(XPUB86).address(0, 0).startswith("1")


@pytest.mark.parametrize(
    ("purpose", "account_key", "script_type"),
    [(44, XPUB44, "p2pkh"), (49, YPUB, "p2sh-p2wpkh"), (84, ZPUB, "p2wpkh"), (86, XPUB86, "p2tr")],
)
def test_public_derivation_matches_the_private_path(purpose: int, account_key: str, script_type: str) -> None:
    """The account keys of the vectors come from the mnemonic at m/purpose'/0'/0', and the public
    derivation /chain/index equals the private m/purpose'/0'/0'/chain/index (receive and change)."""
    root = bip32.HDKey.from_seed(bip39.mnemonic_to_seed(MNEMONIC))
    account = root.derive(f"m/{purpose}h/0h/0h")
    assert account.to_public().key.sec() == bip32.HDKey.from_string(account_key).key.sec()
    keys = WalletKeys.parse(account_key, script_type=script_type)
    for chain, index in ((0, 0), (0, 7), (1, 0), (1, 3)):
        child = account.derive([chain, index]).key.get_public_key()
        spk = {
            "p2pkh": script.p2pkh,
            "p2sh-p2wpkh": lambda k: script.p2sh(script.p2wpkh(k)),
            "p2wpkh": script.p2wpkh,
            "p2tr": script.p2tr,
        }[script_type](child)
        assert keys.address(chain, index) == spk.address(NETWORKS["main"])


def test_testnet_prefixes() -> None:
    """A vpub (the zpub's key with the testnet version) derives the tb1 form of the same programs."""
    key = bip32.HDKey.from_string(ZPUB)
    key.version = NETWORKS["test"]["zpub"]
    vpub = key.to_base58()
    assert vpub.startswith("vpub")
    keys = WalletKeys.parse(vpub)
    assert (keys.network, keys.script_type) == ("testnet", "p2wpkh")
    main = script.address_to_scriptpubkey("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu")
    assert keys.address(0, 0) == main.address(NETWORKS["test"])
    assert WalletKeys.parse(vpub, network="signet").network == "signet"
    with pytest.raises(ConfigurationError, match="testnet key"):
        WalletKeys.parse(vpub, network="mainnet")


def test_single_addresses() -> None:
    keys = WalletKeys.parse("  bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu ")
    assert (keys.kind, keys.single, keys.network) == (
        "address",
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        "mainnet",
    )
    assert WalletKeys.parse("BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU").single == keys.single
    assert (
        WalletKeys.parse("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA").single == "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"
    )
    testnet = script.address_to_scriptpubkey(keys.single).address(NETWORKS["test"])
    assert WalletKeys.parse(testnet).network == "testnet"
    with pytest.raises(ConfigurationError, match="derives no addresses"):
        keys.address(0, 0)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (ZPUB[:-1] + "t", {}, "extended public key is invalid"),
        (ZPUB[:60], {}, "unknown prefix"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyx", {}, "address is invalid"),
        ("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabB", {}, "address is invalid"),
        ("", {}, "give a Bitcoin address"),
        ("hello", {}, "unknown prefix"),
        (ZPUB, {"script_type": "p2tr"}, "contradicts script_type"),
        (ZPUB, {"script_type": "p2sh"}, "unknown script_type"),
        (ZPUB, {"network": "litecoin"}, "unknown network"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", {"script_type": "p2wpkh"}, "not to a single address"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", {"network": "testnet"}, "mainnet address"),
    ],
)
def test_invalid_credentials_are_configuration_errors(
    value: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        WalletKeys.parse(value, **kwargs)
    if len(value) > 20:
        assert value.strip() not in str(caught.value)  # the key is never echoed


def test_private_keys_are_refused_without_echo() -> None:
    root = bip32.HDKey.from_seed(bip39.mnemonic_to_seed(MNEMONIC))
    xprv = root.derive("m/84h/0h/0h").to_base58()
    with pytest.raises(ConfigurationError, match="PRIVATE key") as caught:
        WalletKeys.parse(xprv)
    assert xprv not in str(caught.value)
    assert "xprv" not in repr(WalletKeys.parse(ZPUB))
    assert ZPUB not in repr(WalletKeys.parse(ZPUB))
