import io

import numpy as np
from PIL import Image, PngImagePlugin

from engine.provenance import provenance_hints
from tests.engine.c2pa_signing import sign_image

XMP_AI = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def image_bytes(fmt="PNG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 48, 3), 120, np.uint8)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def kinds(hints):
    return {h.kind for h in hints}


def test_plain_camera_like_file_has_no_hints():
    assert provenance_hints(image_bytes("JPEG"), "JPEG") == []


def test_png_generator_parameters():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat, Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    info.add_text("workflow", '{"nodes": []}')
    hints = provenance_hints(image_bytes("PNG", pnginfo=info), "PNG")
    labels = [h.label for h in hints]
    assert "Generator parameters (parameters)" in labels and "Generator parameters (workflow)" in labels
    assert all(h.ai_generated for h in hints)
    assert "Sampler: Euler a" in hints[0].detail


def test_a_long_prompt_keeps_its_settings_line():
    """Details were cut after 2,000 characters from the start: with a long prompt, the part people look
    for ("Steps, Sampler, Seed, Model") was what went."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat on a sofa, " * 300 + "\nSteps: 20, Sampler: Euler a, Seed: 1, Model: sdxl")
    [hint] = [h for h in provenance_hints(image_bytes("PNG", pnginfo=info), "PNG") if "parameters" in h.label]
    assert len(hint.detail) <= 2000 and hint.detail.startswith("a cat on a sofa")
    assert hint.detail.endswith("Steps: 20, Sampler: Euler a, Seed: 1, Model: sdxl") and " … " in hint.detail


def test_exif_software_and_user_comment():
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly"
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + "Steps: 30, Sampler: DPM++ 2M, Seed: 42".encode("utf-16-be")
    hints = provenance_hints(image_bytes("JPEG", exif=exif), "JPEG")
    software = [h for h in hints if h.kind == "exif_software"]
    assert software and software[0].ai_generated and "Firefly" in software[0].label
    comment = [h for h in hints if h.label.endswith("(EXIF UserComment)")]
    assert comment and "DPM++ 2M" in comment[0].detail


def test_camera_software_is_reported_without_an_ai_claim():
    exif = Image.Exif()
    exif[0x0131] = "GIMP 2.10"
    hints = provenance_hints(image_bytes("JPEG", exif=exif), "JPEG")
    assert [(h.kind, h.ai_generated) for h in hints] == [("exif_software", None)]
    # the detail says where the name came from, not the name a second time
    assert hints[0].label == "Software: GIMP 2.10" and hints[0].detail == "From the EXIF Software tag"
    exif[0x0131] = "A very long software name, version 12.3.4, build 20261206 (x86_64)"
    [long] = provenance_hints(image_bytes("JPEG", exif=exif), "JPEG")
    assert long.label.endswith("…") and long.detail.endswith("build 20261206 (x86_64)")


def software_hint(name: str, raw: bytes | None = None):
    exif = Image.Exif()
    exif[0x0131] = name
    data = image_bytes("JPEG", exif=exif)
    if raw is not None:  # the tag's bytes as some tools write them: UTF-8 in an "ASCII" field
        data = data.replace(name.encode("latin-1"), raw)
    [hint] = [h for h in provenance_hints(data, "JPEG") if h.kind == "exif_software"]
    return hint


def test_ordinary_software_whose_name_holds_an_ai_tools_name_is_not_called_ai():
    """Parts of words were enough: "Imagenomic Portraiture", "Editor de imagen de Windows" and "Fluxus Photo
    Studio" were tagged "declares generative AI" in the list, the pane, copies and exports."""
    for ordinary in ("Imagenomic Portraiture 3.5", "Editor de imagen de Windows", "Fluxus Photo Studio"):
        assert software_hint(ordinary).ai_generated is None, ordinary
    for generator in ("Adobe Firefly", "DALL-E 3", "Midjourney v6", "FLUX.1 [dev]", "Google Imagen 3", "ChatGPT"):
        assert software_hint(generator).ai_generated, generator


def test_copies_and_csv_say_a_software_tags_ai_claim_in_words():
    """The list marks it "AI ·"; the CSV said only "Software: Adobe Firefly"."""
    import csv

    from engine.result import Result, to_csv

    hints = [software_hint("Adobe Firefly"), software_hint("Adobe Photoshop 25.0")]
    result = Result(sha256="5" * 64, path="/f.jpg", probability=0.9, verdict="likely_ai", provenance=hints)
    [row] = csv.DictReader(io.StringIO(to_csv([result])))
    assert row["provenance"] == "Software: Adobe Firefly (declares generative AI); Software: Adobe Photoshop 25.0"


def test_a_software_name_written_in_utf8_is_read_as_written():
    """"DALL·E 3" in UTF-8 showed as "Software: DALLÂ·E 3" and was not recognised."""
    hint = software_hint("DALLxxE 3", raw="DALL·E 3".encode())
    assert hint.label == "Software: DALL·E 3" and hint.ai_generated


def test_iptc_digital_source_type_in_xmp():
    hints = provenance_hints(image_bytes("JPEG", xmp=XMP_AI.encode()), "JPEG")
    assert [(h.kind, h.ai_generated) for h in hints] == [("iptc_source_type", True)]
    assert "generated by AI" in hints[0].label


def test_other_iptc_source_types_are_said_in_words_without_an_ai_claim():
    """They showed as raw codes: "IPTC source: digitalCapture", "compositeSynthetic", "algorithmicMedia"."""
    for code, words in (("digitalCapture", "captured by a camera"), ("compositeSynthetic", "a composite with synthetic"),
                        ("algorithmicMedia", "made by an algorithm")):
        xmp = XMP_AI.replace("trainedAlgorithmicMedia", code)
        [hint] = provenance_hints(image_bytes("JPEG", xmp=xmp.encode()), "JPEG")
        assert hint.label.startswith(f"IPTC: {words}") and hint.ai_generated is None, hint.label
        assert code in hint.detail


def test_c2pa_manifest_with_ai_source_type():
    data = sign_image(image_bytes("JPEG"), "image/jpeg", generator="TestGen")
    hints = [h for h in provenance_hints(data, "JPEG") if h.kind == "c2pa"]
    assert len(hints) == 1
    hint = hints[0]
    assert hint.ai_generated is True
    assert "TestGen" in hint.label and "generated by AI" in hint.label
    assert "Validation:" in hint.detail and "trainedAlgorithmicMedia" in hint.detail


def test_a_long_c2pa_generator_name_gives_way_to_the_signers_trust():
    """Labels were clipped at their end: "untrusted signer" went, and an untrusted manifest read as
    authoritative in the list, copies and exports."""
    generator = "Adobe Firefly Image Generator Enterprise Edition"
    data = sign_image(image_bytes("JPEG"), "image/jpeg", generator=generator)
    [hint] = [h for h in provenance_hints(data, "JPEG") if h.kind == "c2pa"]
    assert hint.label.endswith(" · generated by AI · untrusted signer"), hint.label
    assert len(hint.label) <= 80 and hint.label.startswith("C2PA: Adobe Firefly") and "…" in hint.label
    assert generator in hint.detail  # the whole name is in the detail


def test_c2pa_manifest_without_ai_claim():
    data = sign_image(image_bytes("PNG"), "image/png", generator="CameraApp",
                     source_type="http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture")
    hint = next(h for h in provenance_hints(data, "PNG") if h.kind == "c2pa")
    assert hint.ai_generated is None and "CameraApp" in hint.label


def test_damaged_c2pa_is_a_hint_not_a_failure():
    data = bytearray(sign_image(image_bytes("JPEG"), "image/jpeg"))
    start = data.find(b"c2pa")
    data[start + 100:start + 400] = b"\x00" * 300  # corrupt the manifest store
    hints = provenance_hints(bytes(data), "JPEG")
    assert any(h.kind == "c2pa" for h in hints)  # reported (unreadable or invalid), never raised


def test_a_c2pa_file_on_an_installation_without_c2pa_says_it_was_not_checked(monkeypatch):
    """The native C2PA library missing from a bundle used to drop the 'AI · C2PA: DALL-E' tag without a word
    (a review of the installed app): the file's C2PA data is said to be unchecked instead."""
    import sys

    data = sign_image(image_bytes("JPEG"), "image/jpeg", generator="DALL-E")
    monkeypatch.setitem(sys.modules, "c2pa", None)  # what a missing library looks like to the import
    [hint] = [h for h in provenance_hints(data, "JPEG") if h.kind == "c2pa"]
    assert hint.label == "C2PA: not checked" and "reinstall" in hint.detail
