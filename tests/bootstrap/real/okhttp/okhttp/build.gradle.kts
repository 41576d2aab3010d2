@file:Suppress("UnstableApiUsage")

import okhttp3.buildsupport.alpnBootVersion
import okhttp3.buildsupport.platform
import okhttp3.buildsupport.testJavaVersion
import org.jetbrains.kotlin.gradle.tasks.KotlinCompile
import org.jetbrains.kotlin.gradle.tasks.KotlinJvmCompile
import ru.vyarus.gradle.plugin.animalsniffer.AnimalSniffer
import ru.vyarus.gradle.plugin.animalsniffer.AnimalSnifferExtension

plugins {
  kotlin("multiplatform")
  id("com.android.kotlin.multiplatform.library")
  kotlin("plugin.serialization")
  id("okhttp.publish-conventions")
  id("okhttp.jvm-conventions")
  id("okhttp.quality-conventions")
  id("okhttp.testing-conventions")
  id("app.cash.burst")
  alias(libs.plugins.maven.sympathy)
}

val copyKotlinTemplates =
  tasks.register<Copy>("copyKotlinTemplates") {
    val kotlinTemplatesOutput = layout.buildDirectory.dir("generated/sources/kotlinTemplates")

    from("src/commonJvmAndroid/kotlinTemplates")
    into(kotlinTemplatesOutput)

    filteringCharset = Charsets.UTF_8.toString()

    expand(
      "projectVersion" to project.version.toString(),
    )
  }

// Build & use okhttp3/internal/idn/IdnaMappingTableInstance.kt
val generateIdnaMappingTableConfiguration: Configuration by configurations.creating
dependencies {
  generateIdnaMappingTableConfiguration(projects.okhttpIdnaMappingTable)
}
val generateIdnaMappingTable =
  tasks.register<JavaExec>("generateIdnaMappingTable") {
    val idnaOutput = layout.buildDirectory.dir("generated/sources/idnaMappingTable")

    outputs.dir(idnaOutput)
    mainClass.set("okhttp3.internal.idn.GenerateIdnaMappingTableCode")
    args(idnaOutput.get())
    classpath = generateIdnaMappingTableConfiguration
  }

kotlin {
  jvmToolchain(21)

  jvm {
  }

  android {
    namespace = "okhttp.okhttp3"
    compileSdk {
      version = release(37)
    }
    minSdk = 21

    androidResources {
      enable = true
    }

    optimization {
      consumerKeepRules.publish = true
      consumerKeepRules.files.add(file("okhttp3.pro"))
    }

    withDeviceTest {
      instrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
      execution = "HOST"
    }

    // SDK 35 needs 17, for now avoid trying to run on
    // multiple robolectric versions, since device tests
    // do that
    if (testJavaVersion >= 17) {
      withHostTest {
        isIncludeAndroidResources = true
      }
    }
  }

  sourceSets {
    val commonJvmAndroid =
      create("commonJvmAndroid") {
        dependsOn(commonMain.get())

        kotlin.srcDir(copyKotlinTemplates.map { it.outputs })
        kotlin.srcDir(generateIdnaMappingTable.map { it.outputs })

        dependencies {
          api(libs.square.okio)
          api(libs.kotlin.stdlib)

          compileOnly(libs.animalsniffer.annotations)
        }
      }

    commonTest {
      dependencies {
        implementation(projects.okhttpTestingSupport)
        implementation(libs.assertk)
        implementation(libs.kotlin.test.annotations)
