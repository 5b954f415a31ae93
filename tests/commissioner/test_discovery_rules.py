"""Which commissionable instance a setup code accepts (the SDK commissioner's rule, MATTER_STACK.md §4.1)."""

from __future__ import annotations

from ota_provider.core.dnssd.browser import CommissionableDevice, matches


def device(discriminator=3840, mode=1, vendor=0xFFF1, product=0x8000):
    return CommissionableDevice("ABCD", discriminator, mode, vendor, product, "", (("::1", 5540, 0, 0),), 5540)


def test_the_long_discriminator_must_match_exactly_and_the_short_its_upper_bits():
    assert matches(device(3840), discriminator=3840, short=False)
    assert not matches(device(3841), discriminator=3840, short=False)
    assert matches(device(3841), discriminator=15 << 8, short=True)  # same upper 4 bits
    assert not matches(device(0x100), discriminator=15 << 8, short=True)


def test_a_closed_window_or_another_product_is_not_accepted():
    assert not matches(device(mode=0), discriminator=3840, short=False)
    assert matches(device(mode=2), discriminator=3840, short=False)  # an enhanced window, opened by an admin
    assert not matches(device(vendor=0xFFF2), discriminator=3840, short=False, vendor_id=0xFFF1)
    assert not matches(device(product=0x8001), discriminator=3840, short=False, vendor_id=0xFFF1, product_id=0x8000)
    assert matches(
        device(vendor=None, product=None), discriminator=3840, short=False, vendor_id=0xFFF1, product_id=0x8000
    )  # no VP in the TXT: nothing to disagree with
