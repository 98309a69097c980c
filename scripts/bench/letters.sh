#!/usr/bin/env bash
# The suite's `letters` set, notMNIST-like: the letters A–J rendered from the Latin fonts of
# 161 Debian font packages (`apt-get download`, nothing installed), one 28×28 gray image
# per (font, letter), as IDX files in OUT (scripts/bench/font_letters.py says how), and
# from the same fonts OUT/glyph-faces: 40 fonts × 10 posed, lit renders of the letter a in
# folders like a face set's (scripts/bench/glyph_faces.py), and OUT/lowercase: the letters
# k l m n o r s t u v drawn the same way (font_letters.py --letters; 1,636 fonts), and
# OUT/capitals: the capitals K L M N O P Q R S T (1,623 fonts), OUT/numerals: the
# digits 0–9 (1,667 fonts), and OUT/lowercase-aj: the letters a–j (1,634 fonts, made after
# the members rule was set, to check it).
#   letters.sh OUT [PYTHON]    PYTHON needs numpy, pillow and fonttools
# Debian bookworm's packages gave 1,627 fonts, 16,270 images (sha256 of the images file
# 6e5258bb…; the script prints it): another release's packages give another set.
set -euo pipefail
out=$1
py=${2:-python3}
packages=(
    fonts-3270 fonts-adf-accanthis fonts-adf-baskervald fonts-adf-berenis fonts-adf-gillius
    fonts-adf-ikarius fonts-adf-irianis fonts-adf-libris fonts-adf-mekanus fonts-adf-oldania
    fonts-adf-romande fonts-adf-solothurn fonts-adf-switzera fonts-adf-tribun
    fonts-adf-universalis fonts-adf-verana fonts-aenigma fonts-agave fonts-allerta
    fonts-anonymous-pro fonts-apropal fonts-arapey fonts-arkpandora fonts-averia-gwf
    fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-b612 fonts-bajaderka fonts-bebas-neue
    fonts-beteckna fonts-blankenburg fonts-breip fonts-bwht fonts-cabin fonts-cabinsketch
    fonts-cantarell fonts-cardo fonts-century-catalogue fonts-cherrybomb fonts-clear-sans
    fonts-cmu fonts-comfortaa fonts-comic-neue fonts-compagnon fonts-courier-prime
    fonts-creep2 fonts-crosextra-caladea fonts-crosextra-carlito fonts-dancingscript
    fonts-dejavu-core fonts-dejavu-extra fonts-dkg-handwriting fonts-dosis fonts-dustin
    fonts-ebgaramond fonts-ecolier-court fonts-ecolier-lignes-court fonts-elstob
    fonts-engadget fonts-essays1743 fonts-eurofurence fonts-f500 fonts-fantasma
    fonts-fantasque-sans fonts-fanwood fonts-femkeklaver fonts-firacode fonts-freefont-ttf
    fonts-gamaliel fonts-georgewilliams fonts-gfs-baskerville fonts-gfs-bodoni-classic
    fonts-gfs-didot fonts-gnutypewriter fonts-go fonts-gotico-antiqua fonts-goudybookletter
    fonts-hack-ttf fonts-hermit fonts-humor-sans fonts-inconsolata fonts-inter fonts-isabella
    fonts-jetbrains-mono fonts-joscelyn fonts-junction fonts-junicode fonts-jura fonts-karla
    fonts-karmilla fonts-kaushanscript fonts-klaudia-berenika fonts-kristi fonts-lato
    fonts-le-murmure fonts-league-mono fonts-league-spartan fonts-leckerli-one
    fonts-lemonada fonts-levien-museum fonts-levien-typoscript fonts-liberation
    fonts-liberation2 fonts-lindenhill fonts-linuxlibertine fonts-lmodern fonts-lobster
    fonts-lobstertwo fonts-manrope fonts-millimetre fonts-monofur fonts-mononoki
    fonts-mph-2b-damase fonts-national-park fonts-noto-core fonts-ocr-a fonts-ocr-b
    fonts-oflb-euterpe fonts-okolaks fonts-oldstandard fonts-open-sans fonts-opendin
    fonts-opendyslexic fonts-oxygen fonts-paratype fonts-play fonts-povray fonts-prociono
    fonts-quattrocento fonts-quicksand fonts-radisnoir fonts-rampart fonts-reggae
    fonts-roadgeek fonts-roboto-slab fonts-roboto-unhinted fonts-rocknroll
    fonts-routed-gothic fonts-rufscript fonts-sil-andika fonts-sil-charis fonts-sil-doulos
    fonts-sil-gentiumplus fonts-sjfonts fonts-solide-mirage fonts-sora fonts-staypuft
    fonts-stix fonts-summersby fonts-texgyre fonts-tiresias fonts-tomsontalks fonts-train
    fonts-triod-postnaja fonts-tuffy fonts-ubuntu-title fonts-uralic fonts-urw-base35
    fonts-vollkorn fonts-yanone-kaffeesatz fonts-yrsa-rasa
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "letters: apt-get download of ${#packages[@]} font packages (about 180 MB)" >&2
(cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1) || {
    echo "letters: error: 'apt-get download' of the font packages failed (a Debian machine with" >&2
    echo "         its package lists, 'apt-get update', is needed)" >&2
    exit 1
}
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/fonts"; done
"$py" "$(dirname "$0")/font_letters.py" "$work/out" "$work/fonts"
"$py" "$(dirname "$0")/glyph_faces.py" "$work/out/glyph-faces" "$work/fonts"
"$py" "$(dirname "$0")/font_letters.py" --letters klmnorstuv "$work/out/lowercase" "$work/fonts"
"$py" "$(dirname "$0")/font_letters.py" --letters KLMNOPQRST "$work/out/capitals" "$work/fonts"
"$py" "$(dirname "$0")/font_letters.py" --letters 0123456789 "$work/out/numerals" "$work/fonts"
"$py" "$(dirname "$0")/font_letters.py" --letters abcdefghij "$work/out/lowercase-aj" "$work/fonts"
mkdir -p "$out"
for f in letters-images-idx3-ubyte letters-labels-idx1-ubyte fonts.txt; do
    mv "$work/out/$f" "$out/$f.tmp" && mv "$out/$f.tmp" "$out/$f"
done
rm -rf "$out/glyph-faces"
mv "$work/out/glyph-faces" "$out/glyph-faces"
for set in lowercase capitals numerals lowercase-aj; do
    rm -rf "${out:?}/$set"
    mv "$work/out/$set" "$out/$set"
done
sha256sum "$out/letters-images-idx3-ubyte" >&2
