import QtQuick
import Confab.App.Style

// The Confab mark drawn in QML (the app has no SVG image plugin at run time): two speech
// bubbles on an accent tile. resources/icons/confab.svg is the same drawing for the desktop.
Rectangle {
    id: logo

    property int size: 32

    width: size
    height: size
    radius: size * 0.26
    gradient: Gradient {
        GradientStop { position: 0; color: "#5b7cfa" }
        GradientStop { position: 1; color: "#8a5cf6" }
    }
    Accessible.role: Accessible.Graphic
    Accessible.name: "Confab"

    Rectangle {
        x: logo.size * 0.16
        y: logo.size * 0.2
        width: logo.size * 0.5
        height: logo.size * 0.36
        radius: height * 0.45
        color: "white"
    }
    Rectangle {
        x: logo.size * 0.22
        y: logo.size * 0.48
        width: logo.size * 0.12
        height: logo.size * 0.12
        rotation: 45
        color: "white"
    }
    Rectangle {
        x: logo.size * 0.38
        y: logo.size * 0.46
        width: logo.size * 0.46
        height: logo.size * 0.32
        radius: height * 0.45
        color: "#c9d4ff"
        border.color: "white"
        border.width: Math.max(1, logo.size * 0.04)
    }
}
