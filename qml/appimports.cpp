// Registers the app's static QML modules with the QML engine of the program this is compiled
// into (the confab executable, the app's tests): without these, the linker drops the plugins.
#include <QtQml/QQmlExtensionPlugin>

Q_IMPORT_QML_PLUGIN(Confab_App_StylePlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_PlatformPlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_SignInPlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_TimelinePlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_ComposerPlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_SidebarPlugin)
Q_IMPORT_QML_PLUGIN(Confab_App_MembersPlugin)
Q_IMPORT_QML_PLUGIN(Confab_AppPlugin)
